"""Paging arguments shared by lists, connections and aggregates."""

from __future__ import annotations

from graph.errors import UserInputError

Path = tuple[str | int, ...]


def checked_offset(value: int | None, max_offset: int, path: Path) -> int:
    """An `offset`: 0 or more, and at most GRAPH_MAX_OFFSET (the database reads every row it
    skips; a connection cursor pages at any depth for the same cost)."""
    if value is None:
        return 0
    if value < 0:
        raise UserInputError(f"must be 0 or more, not {value}", path)
    if value > max_offset:
        raise UserInputError(
            f"{value:,} is more than the largest offset {max_offset:,} (GRAPH_MAX_OFFSET); "
            "page deeper with a connection and its cursors, or narrow `where`",
            path,
        )
    return value
