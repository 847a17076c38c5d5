// Storefront API client for the bookshop web app.
// Wraps fetch with retries, timeouts and typed JSON decoding.

export interface Book {
  isbn: string;
  title: string;
  author: string;
  priceCents: number;
  available: number;
}

export interface SearchResult {
  books: Book[];
  total: number;
}

const DEFAULT_TIMEOUT_MS = 5000;

async function fetchWithTimeout(url: string, init: RequestInit = {}, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await fetch(url, { ...init, signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

export async function searchBooks(baseUrl: string, query: string, page = 1): Promise<SearchResult> {
  const params = new URLSearchParams({ q: query, page: String(page) });
  const response = await fetchWithTimeout(`${baseUrl}/books/search?${params}`);
  if (!response.ok) {
    throw new Error(`search failed with HTTP ${response.status}`);
  }
  return (await response.json()) as SearchResult;
}

export async function reserveBook(baseUrl: string, isbn: string, copies = 1, retries = 2): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetchWithTimeout(`${baseUrl}/books/${isbn}/reservations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ copies }),
    });
    if (response.ok) return;
    if (response.status < 500 || attempt >= retries) {
      throw new Error(`reservation of ${isbn} failed with HTTP ${response.status}`);
    }
  }
}

export class CartStore {
  private lines = new Map<string, number>();

  add(isbn: string, copies = 1): void {
    this.lines.set(isbn, (this.lines.get(isbn) ?? 0) + copies);
  }

  remove(isbn: string): void {
    this.lines.delete(isbn);
  }

  totalCopies(): number {
    let total = 0;
    for (const copies of this.lines.values()) total += copies;
    return total;
  }
}
