"""LIKE patterns with one meaning on both databases.

PostgreSQL treats `\\` as LIKE's escape character by default, SQLite has none unless the
statement names one, and they differ on a backslash before an ordinary character or at the end.
A client's pattern is therefore read here, once, by the API's own rule (`%` any text, `_` one
character, `\\` makes the next character literal) and written out again in a canonical form in
which only `\\%`, `\\_` and `\\\\` occur, for `LIKE ... ESCAPE '\\'` on either database.
"""

from __future__ import annotations

ESCAPE = "\\"
WILDCARDS = "%_"


def canonical_like(pattern: str) -> str:
    """The pattern in canonical form; ValueError when it ends in a lone escape character."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char != ESCAPE:
            out.append(char)
            continue
        literal = next(chars, None)
        if literal is None:
            raise ValueError(
                "a like pattern cannot end with a single \\; write \\\\ for a backslash"
            )
        out.append(escape_like(literal))
    return "".join(out)


def escape_like(text: str) -> str:
    """`text` as a pattern that matches exactly itself."""
    return "".join(ESCAPE + c if c in WILDCARDS or c == ESCAPE else c for c in text)
