// Package receipts renders order receipts as plain text and PDF-ready lines
// for the bookshop's email and print services.
package receipts

import (
	"fmt"
	"strings"
	"time"
)

// Line is one purchased title on a receipt.
type Line struct {
	Title      string
	Copies     int
	PriceCents int
}

// Receipt is everything printed for one paid order.
type Receipt struct {
	OrderID  string
	Customer string
	PaidAt   time.Time
	Lines    []Line
	VATCents int
}

// TotalCents sums the lines and the VAT.
func (r Receipt) TotalCents() int {
	total := r.VATCents
	for _, line := range r.Lines {
		total += line.Copies * line.PriceCents
	}
	return total
}

func formatCents(cents int) string {
	return fmt.Sprintf("%d.%02d", cents/100, cents%100)
}

// RenderText formats the receipt for the confirmation email.
func RenderText(r Receipt) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Order %s for %s, paid %s\n", r.OrderID, r.Customer, r.PaidAt.Format(time.RFC1123))
	for _, line := range r.Lines {
		fmt.Fprintf(&b, "%3d x %-40s %10s\n", line.Copies, line.Title, formatCents(line.Copies*line.PriceCents))
	}
	fmt.Fprintf(&b, "VAT %52s\nTotal %50s\n", formatCents(r.VATCents), formatCents(r.TotalCents()))
	return b.String()
}
