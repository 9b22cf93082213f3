"""Small wording helpers shared by pages and dialogs, so counts read "1 document" / "2 documents" everywhere
instead of "1 document(s)" (issue 20.7)."""

from __future__ import annotations


def count_phrase(count: int, noun: str, plural: str | None = None) -> str:
    """ "1 finding", "3 findings", "1,200 lots"; `plural` for nouns that do not just take an s."""
    return f"{count:,} {noun if count == 1 else (plural or noun + 's')}"


def sentence_case(text: str) -> str:
    """The first letter upper-case, the rest as written (codes and names keep their case)."""
    return text[:1].upper() + text[1:] if text else text
