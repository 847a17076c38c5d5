"""The ``local`` provider: offline, deterministic, extractive; no network and no key.

It is the default so that a new user sees the whole pipeline work at once, and it
has to be useful, not a placeholder:

- keywords are the entity's most frequent terms (identifiers split into words,
  stop words dropped, variants folded), with the entity's name, a document's
  title and headings weighted up;
- a code summary is the signature plus the docstring or the comment above it
  (Python through :mod:`ast`, other languages through their declarations and
  ``//``, ``/* */``, ``#`` or ``--`` comments);
- a document summary is its title and its first sentences of real prose;
- conversation topics are runs of messages that share vocabulary, cut where the
  words change, where someone says "next" or where the purpose changes (a
  bug hunt turning into release planning).

Which output to build is read from the request's output model fields, so this
package needs nothing from the job manager. Everything is linear in the input.

The modules, lowest first; each imports only modules listed before it:

- :mod:`.names`: what an entity's name says (base name, words, file or not);
- :mod:`.summaries`: how every summary is written: :func:`~.summaries.finish`,
  lead sentences;
- :mod:`.conversations`: a conversation's messages (read from a transcript when
  it is stored as text) and its summary as one entity;
- :mod:`.purposes`: the purpose cues and :func:`purpose`;
- :mod:`.topics`: topic segmentation, :func:`topics`;
- :mod:`.keywords`: :func:`keywords` and the weighted texts they are counted in;
- :mod:`.declarations`: code in any language read by pattern, and
  :class:`~.declarations.CodeFacts`, what a code summary says;
- :mod:`.code`: code summaries, Python read through :mod:`ast`;
- :mod:`.documents`: document summaries;
- :mod:`.provider`: :class:`LocalProvider`, and :func:`summarize`, which picks
  the summary of the source's kind.
"""

from __future__ import annotations

from .keywords import keywords
from .provider import MODEL, LocalProvider, summarize
from .purposes import purpose
from .topics import topics

__all__ = ["MODEL", "LocalProvider", "keywords", "purpose", "summarize", "topics"]
