"""Collects spec problems so that every one of them is reported at once, compiler-style."""

from __future__ import annotations

from graph.errors import SourcePos, SpecErrors, SpecIssue


class Issues:
    def __init__(self) -> None:
        self.items: list[SpecIssue] = []

    def add(self, pos: SourcePos, code: str, message: str) -> None:
        self.items.append(SpecIssue(pos, code, message))

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecErrors(self.items)
