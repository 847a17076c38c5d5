"""Text every database can store: what model answers and error messages pass through.

PostgreSQL's ``text`` and ``jsonb`` refuse NUL, and no driver can encode a lone
surrogate as UTF-8. Either in a model's answer made the verdict's write fail for
good, and the job was run (and paid for) again after its lock timed out. Stripped
here, a stray byte costs nothing.
"""

from __future__ import annotations


def storable(text: str) -> str:
    """``text`` without NUL, with any lone surrogate replaced by ``?``."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text
