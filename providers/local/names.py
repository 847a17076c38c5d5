"""What an entity's own name says: ``src/app/orders.py`` is a file about orders.

Keywords are padded with a name's words, a code summary looks for the definition
named like its entity, and a document without a title is called after its file.
"""

from __future__ import annotations

import re

from ..textkit import split_identifier

_PATH_SEPARATOR = re.compile(r"[/\\]|::")
FILE_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,6}$")


def base_name(name: str) -> str:
    """The last component of a path or qualified name: ``src/app/orders.py`` → ``orders.py``."""
    return _PATH_SEPARATOR.split(name.strip())[-1]


def is_file_name(name: str) -> bool:
    return bool(_PATH_SEPARATOR.search(name) or FILE_EXTENSION.search(name))


def name_words(name: str) -> list[str]:
    """The words of an entity's own name, without directories or the file extension."""
    base = base_name(name)
    if is_file_name(name):
        base = FILE_EXTENSION.sub("", base)
    return [w for part in re.split(r"[^A-Za-z0-9_-]+", base) for w in split_identifier(part)]


def name_candidates(name: str) -> set[str]:
    """What a definition inside the text could be called if it is the entity itself."""
    base = base_name(name)
    head, _, tail = base.rpartition(".")
    return {base, tail, head} - {""}
