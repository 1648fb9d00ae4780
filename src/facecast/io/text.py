"""User strings that are published (labels, subject and clip ids, donors.csv cells) must be plain text.

A control character (Unicode categories Cc and Cf: NUL, tab, newline, escape,
zero-width and bidirectional marks, ...) or a line or paragraph separator
(Zl, Zp) inside one is refused: it would be published as it is, unseen.
Messages show such characters escaped ('\\x00', '\\t', '\\u202e').
"""

from __future__ import annotations

import unicodedata

CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def is_control(char: str) -> bool:
    return unicodedata.category(char) in CONTROL_CATEGORIES


def escaped(text: str) -> str:
    """The text with every control character written as its Python escape (the rest as it is)."""
    return "".join(c.encode("unicode_escape").decode("ascii") if is_control(c) else c for c in text)


def control_characters(text: str) -> str | None:
    """None for plain text, else which control characters it holds, escaped, in order of first appearance."""
    found = dict.fromkeys(c for c in text if is_control(c))
    return ", ".join(f"'{escaped(c)}'" for c in found) or None
