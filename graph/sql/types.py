"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, String, TypeDecorator, Uuid
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes stored in UTC.

    PostgreSQL keeps them as timestamptz. SQLite has no datetime type: values are stored as
    fixed-width UTC text (`2026-01-31 12:00:00.000000`), so comparing the text orders them in
    time. A naive datetime given to the engine is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class ScalarList(TypeDecorator[list[Any]]):
    """A list of scalars: a native array on PostgreSQL (GIN-indexable), a JSON array on SQLite."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def __init__(self, element: TypeEngine[Any]) -> None:
        super().__init__()
        self.element = element

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(self.element))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> list[Any] | None:
        return None if value is None else list(value)

    def process_result_value(self, value: list[Any] | None, dialect: Dialect) -> list[Any] | None:
        return None if value is None else list(value)


def json_type() -> TypeEngine[Any]:
    """JSON documents: jsonb on PostgreSQL (indexable containment), JSON text on SQLite."""
    # A Python None is SQL NULL, not the JSON text 'null': `isNull` filters must see it.
    return JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def uuid_type() -> TypeEngine[Any]:
    return Uuid(as_uuid=False).with_variant(String(36), "sqlite")
