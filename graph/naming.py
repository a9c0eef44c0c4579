"""The one place that turns spec names into GraphQL and SQL names, and knows which are taken."""

from __future__ import annotations

import difflib
import functools
import keyword
import re
from collections.abc import Iterable

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
PASCAL_CASE = re.compile(r"^[A-Z][A-Za-z0-9]*$")

# Words reserved by SQL:2016, PostgreSQL or SQLite. A column named like one of these works only
# when quoted everywhere, which hand-written SQL against the tables would forget.
SQL_RESERVED = frozenset(
    [
        "abort",
        "action",
        "add",
        "all",
        "alter",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "authorization",
        "begin",
        "between",
        "binary",
        "both",
        "by",
        "cascade",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "commit",
        "concurrently",
        "constraint",
        "create",
        "cross",
        "current_catalog",
        "current_date",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "database",
        "default",
        "deferrable",
        "delete",
        "desc",
        "distinct",
        "do",
        "drop",
        "else",
        "end",
        "except",
        "exclusive",
        "exists",
        "explain",
        "false",
        "fetch",
        "filter",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "glob",
        "grant",
        "group",
        "having",
        "if",
        "ilike",
        "immediate",
        "in",
        "index",
        "initially",
        "inner",
        "insert",
        "instead",
        "intersect",
        "into",
        "is",
        "isnull",
        "join",
        "lateral",
        "leading",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "match",
        "natural",
        "not",
        "notnull",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "outer",
        "over",
        "overlaps",
        "placing",
        "pragma",
        "primary",
        "raise",
        "recursive",
        "references",
        "regexp",
        "reindex",
        "release",
        "rename",
        "replace",
        "restrict",
        "returning",
        "right",
        "rollback",
        "row",
        "rows",
        "savepoint",
        "select",
        "session_user",
        "set",
        "similar",
        "some",
        "symmetric",
        "table",
        "tablesample",
        "temp",
        "temporary",
        "then",
        "to",
        "trailing",
        "transaction",
        "trigger",
        "true",
        "union",
        "unique",
        "update",
        "user",
        "using",
        "vacuum",
        "values",
        "variadic",
        "verbose",
        "view",
        "virtual",
        "when",
        "where",
        "window",
        "with",
        "without",
    ]
)

# Columns every table gets from the engine; a spec may not declare them itself.
ENGINE_FIELDS = ("id", "created_at", "updated_at")


@functools.lru_cache(maxsize=4096)
def camel_case(snake: str) -> str:
    """`linked_playbook_id` -> `linkedPlaybookId` (GraphQL field and argument names). Kept:
    the planner asks for the names of the spec's fields and relations at every request."""
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def pascal_case(snake: str) -> str:
    """`execution_logs` -> `ExecutionLogs`."""
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


def lower_first(name: str) -> str:
    """`ExecutionLogs` -> `executionLogs` (root field names from type names)."""
    return name[:1].lower() + name[1:]


def enum_member(value: str) -> str:
    """`non_compliant` -> `NON_COMPLIANT`, the GraphQL spelling of an enum value."""
    return value.upper()


def default_plural(type_name: str) -> str:
    """English plural of a PascalCase type name; the spec's `plural:` overrides it."""
    if re.search(r"[^aeiou]y$", type_name):
        return type_name[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", type_name):
        return type_name + "es"
    return type_name + "s"


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a field, table or enum value name, or None when it can."""
    if not SNAKE_CASE.match(name):
        return "is not snake_case (lower-case letters, digits and single underscores)"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return "is a Python keyword"
    if name in SQL_RESERVED:
        return "is an SQL reserved word"
    return None


def suggest(word: str, choices: Iterable[str]) -> str:
    """ "; did you mean 'x'?" for the closest choice, or "" when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


# -- generated GraphQL names: the gql layer builds exactly these, the spec checker checks them --

SHARED_TYPE_NAMES = frozenset(
    {
        "Query",
        "Mutation",
        "Subscription",
        "PageInfo",
        "SortDirection",
        "StringFilter",
        "IntFilter",
        "FloatFilter",
        "BoolFilter",
        "DateFilter",
        "DateTimeFilter",
        "JSONFilter",
        "StringListFilter",
        "IntListFilter",
        "FloatListFilter",
        "BoolListFilter",
        "BigIntFilter",
        "BigIntListFilter",
        "BigInt",
        "JSON",
        "Date",
        "DateTime",
        "UUID",
        "TimeBucket",
    }
)


def list_filter_name(element_type: str) -> str:
    """`string` -> `StringListFilter`, `bigint` -> `BigIntListFilter`."""
    return f"{ {'bigint': 'BigInt'}.get(element_type, pascal_case(element_type)) }ListFilter"


def where_input_name(type_name: str) -> str:
    return f"{type_name}Where"


def many_where_input_name(type_name: str) -> str:
    return f"{type_name}ManyWhere"


def order_input_name(type_name: str) -> str:
    return f"{type_name}OrderBy"


def connection_type_name(type_name: str) -> str:
    return f"{type_name}Connection"


def edge_type_name(type_name: str) -> str:
    return f"{type_name}Edge"


def enum_type_name(type_name: str, field_name: str) -> str:
    return f"{type_name}{pascal_case(field_name)}"


def enum_filter_name(type_name: str, field_name: str) -> str:
    return f"{enum_type_name(type_name, field_name)}Filter"


def connection_root_name(list_root: str) -> str:
    return f"{list_root}Connection"


def aggregate_root_name(list_root: str) -> str:
    return f"{list_root}Aggregate"


# -- aggregates (graph/gql/aggregates.py) ------------------------------------------------------

# Suffixes of the types each table's aggregate field makes, after the table's type name, with
# what each is: `ExecutionLogGroup`, `ExecutionLogGroupBy`, ...
AGGREGATE_TYPE_SUFFIXES = {
    "Group": "group type",
    "GroupBy": "grouping key input",
    "GroupField": "groupable field enum",
    "GroupKey": "group key type",
    "GroupKeyOrder": "group key order input",
    "GroupHaving": "having input",
    "GroupOrder": "group order input",
    "DistinctCounts": "distinct counts type",
    "DistinctCountsFilter": "distinct counts filter",
    "DistinctCountsOrder": "distinct counts order",
    "Sums": "sums type",
    "SumsFilter": "sums filter",
    "SumsOrder": "sums order",
    "Averages": "averages type",
    "AveragesFilter": "averages filter",
    "AveragesOrder": "averages order",
    "Extremes": "min/max type",
    "ExtremesFilter": "min/max filter",
    "ExtremesOrder": "min/max order",
    "Percentiles": "percentiles type",
    "AggregateFilter": "relation aggregate filter",
    "AggregateOrder": "relation aggregate order",
}


def relation_aggregate_name(relation_gql_name: str) -> str:
    """`executions` -> `executionsAggregate`, the aggregate field of a to-many relation."""
    return f"{relation_gql_name}Aggregate"


def aggregate_type_name(type_name: str, suffix: str) -> str:
    """`ExecutionLog` + `GroupBy` -> `ExecutionLogGroupBy` (suffixes above)."""
    assert suffix in AGGREGATE_TYPE_SUFFIXES, suffix
    return f"{type_name}{suffix}"


# -- mutations (graph/gql/mutations.py) ------------------------------------------------------


def insert_input_name(type_name: str) -> str:
    return f"{type_name}Insert"


def set_input_name(type_name: str) -> str:
    return f"{type_name}Set"


def on_conflict_input_name(type_name: str) -> str:
    return f"{type_name}OnConflict"


def upsert_field_enum_name(type_name: str) -> str:
    return f"{type_name}UpsertField"


def write_result_name(type_name: str) -> str:
    return f"{type_name}WriteResult"


def mutation_root_names(plural: str) -> tuple[str, str, str]:
    """`insertPlaybooks`, `updatePlaybooks`, `deletePlaybooks`."""
    return f"insert{plural}", f"update{plural}", f"delete{plural}"
