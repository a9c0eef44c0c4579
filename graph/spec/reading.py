"""Reading keys of a located YAML mapping, reporting what is wrong: shared by every checker."""

from __future__ import annotations

from graph.naming import suggest
from graph.spec.issues import Issues
from graph.spec.yaml_tree import YMap, YScalar


def report_unknown_keys(node: YMap, allowed: tuple[str, ...], what: str, issues: Issues) -> None:
    """UNKNOWN_KEY for each key not in `allowed`, with the closest allowed one as a hint."""
    for key, pos in node.key_pos.items():
        if key not in allowed:
            issues.add(pos, "UNKNOWN_KEY", f"unknown {what} key '{key}'{suggest(key, allowed)}")


def read_bool(node: YMap, key: str, issues: Issues) -> bool:
    """The key's true/false value; false when absent or (reported) not a boolean."""
    scalar = node.items.get(key)
    if scalar is None:
        return False
    value = scalar.value if isinstance(scalar, YScalar) else None
    if not isinstance(value, bool):
        issues.add(scalar.pos, "BAD_VALUE", f"'{key}' must be true or false")
        return False
    return value
