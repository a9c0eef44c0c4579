"""The only YAML reader: parses a file into nodes that remember their line and column.

PyYAML's composer gives positions but its constructor drops them and silently keeps the last of
two equal keys; the spec loader needs both, so it works on this small located tree instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from graph.errors import SourcePos

BOOL_TAG = "tag:yaml.org,2002:bool"


@dataclass(frozen=True)
class YScalar:
    value: Any
    tag: str
    raw: str
    quoted: bool
    pos: SourcePos

    @property
    def is_yaml11_bool(self) -> bool:
        """True for unquoted yes/no/on/off, which YAML 1.1 reads as booleans, not words."""
        return self.tag == BOOL_TAG and self.raw.lower() not in ("true", "false")


@dataclass(frozen=True)
class YSeq:
    items: tuple[YNode, ...]
    pos: SourcePos


@dataclass(frozen=True)
class YMap:
    """A mapping; keys are their source text. `key_pos` says where each key stands."""

    items: dict[str, YNode]
    key_pos: dict[str, SourcePos]
    pos: SourcePos


YNode = YScalar | YSeq | YMap


@dataclass(frozen=True)
class YamlProblem:
    pos: SourcePos
    code: str
    message: str


def _pos(path: str, mark: yaml.Mark | None) -> SourcePos:
    if mark is None:
        return SourcePos(path)
    return SourcePos(path, mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.constructor = yaml.SafeLoader("")
        self.problems: list[YamlProblem] = []

    def build(self, node: yaml.Node) -> YNode:
        pos = _pos(self.path, node.start_mark)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, pos)
        if isinstance(node, yaml.SequenceNode):
            return YSeq(tuple(self.build(item) for item in node.value), pos)
        assert isinstance(node, yaml.ScalarNode)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.problems.append(YamlProblem(pos, "YAML_SYNTAX", f"cannot read value: {exc}"))
            value = node.value
        return YScalar(value, node.tag, node.value, node.style in ("'", '"'), pos)

    def _mapping(self, node: yaml.MappingNode, pos: SourcePos) -> YMap:
        items: dict[str, YNode] = {}
        key_pos: dict[str, SourcePos] = {}
        for key_node, value_node in node.value:
            kpos = _pos(self.path, key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(YamlProblem(kpos, "BAD_VALUE", "a key must be a plain word"))
                continue
            key = str(key_node.value)
            if key in items:
                first = key_pos[key]
                self.problems.append(
                    YamlProblem(
                        kpos,
                        "DUPLICATE_KEY",
                        f"duplicate key '{key}' (first at line {first.line})",
                    )
                )
                continue
            items[key] = self.build(value_node)
            key_pos[key] = kpos
        return YMap(items, key_pos, pos)


def parse_yaml(text: str, path: str) -> tuple[YNode | None, list[YamlProblem]]:
    """Parse one YAML document; returns the located tree (None if unreadable) and the problems."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or str(exc)
        return None, [YamlProblem(_pos(path, mark), "YAML_SYNTAX", f"YAML syntax error: {what}")]
    except yaml.YAMLError as exc:
        return None, [YamlProblem(SourcePos(path), "YAML_SYNTAX", f"YAML syntax error: {exc}")]
    if node is None:
        return None, [YamlProblem(SourcePos(path, 1, 1), "EMPTY_FILE", "the file is empty")]
    builder = _Builder(path)
    tree = builder.build(node)
    return tree, builder.problems
