"""Reading and validating `schemas/*.yaml` and `relations.yaml` into frozen spec objects."""

from graph.spec.load import load_spec
from graph.spec.model import FieldSpec, FieldType, RelationEnd, RelationSpec, Spec, TableSpec

__all__ = [
    "FieldSpec",
    "FieldType",
    "RelationEnd",
    "RelationSpec",
    "Spec",
    "TableSpec",
    "load_spec",
]
