"""Relations between columns of different types compare the same way on both databases.

relations.yaml may link a uuid to a text column and an int to a bigint one (docs/schema-format.md,
"Which columns can link"). The differential test found each case below failing on PostgreSQL
(no `uuid = varchar` operator, a bigint bound as an int, uuid link values read back as
uuid.UUID); these are their regressions, over the zoo spec of tests/fixtures/zoo.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from graph.spec import Spec, load_spec
from graph.sql.ddl import create_schema
from graph.sql.tables import build_catalog
from tests.api import Api
from tests.databases import BACKENDS, fresh_database

ZOO = Path(__file__).resolve().parent / "fixtures" / "zoo"
HOME = "0b3a4c52-8f1e-4c1a-9d3e-2f6b7a8c9d01"
OTHER = "9f0e1d2c-3b4a-4958-8776-655443322110"
BIG = 2**62 + 7  # beyond int32, where animal_no (an int key) is compared with buddy_no (bigint)

ROWS: dict[str, list[dict[str, Any]]] = {
    "enclosures": [
        {"enclosure_uid": HOME, "label": "Savanna"},
        {"enclosure_uid": OTHER, "label": "Aviary"},
    ],
    "animals": [
        {
            "animal_no": 1,
            "name": "Ada",
            "species": "lion",
            "vaccinated": True,
            "enclosure_uid": HOME,
            "chip_id": BIG,
        },
        {
            "animal_no": 2,
            "name": "Bo",
            "species": "lion",
            "vaccinated": False,
            "enclosure_uid": HOME,
        },
        {
            "animal_no": 3,
            "name": "Cy",
            "species": "lion",
            "vaccinated": True,
            "enclosure_uid": None,
        },
    ],
    "keepers": [
        # enclosure_ref is text: a uuid's text, something that is no uuid, or nothing.
        {
            "keeper_code": "k-1",
            "full_name": "Kim",
            "enclosure_ref": HOME,
            "buddy_no": 2,
            "badge": "c56a4180-65aa-42ec-a945-5fd21dec0538",
        },
        {
            "keeper_code": "k-2",
            "full_name": "Lou",
            "enclosure_ref": "AUTH-SERVICE",
            "buddy_no": BIG,
        },
        {"keeper_code": "k-3", "full_name": "Max", "enclosure_ref": OTHER, "buddy_no": None},
    ],
}


@pytest.fixture(scope="module")
def zoo_spec() -> Spec:
    return load_spec(ZOO / "schemas", ZOO / "relations.yaml")


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, zoo_spec: Spec
) -> Iterator[Api]:
    catalog = build_catalog(zoo_spec)
    with fresh_database(request.param, tmp_path_factory.mktemp("links")) as db:
        create_schema(db.engine, catalog)
        with db.engine.begin() as conn:
            for table, rows in ROWS.items():
                for row in rows:
                    conn.execute(insert(catalog.table(table)), row)
        yield Api(db, zoo_spec, catalog)


async def test_uuid_to_uuid_to_many_side(api: Api) -> None:
    data = await api.data("{ enclosures { label inhabitants { name } } }")
    assert data["enclosures"] == [
        {"label": "Savanna", "inhabitants": [{"name": "Ada"}, {"name": "Bo"}]},
        {"label": "Aviary", "inhabitants": []},
    ]


async def test_text_to_uuid_links_compare_as_text(api: Api) -> None:
    data = await api.data(
        "{ keepers { keeperCode homeEnclosure { label } } "
        "enclosures(where: {referringKeepers: {some: {}}}) "
        "{ label referringKeepers { keeperCode } } "
        "byHome: keepers(orderBy: [{homeEnclosure: {label: ASC}}]) { keeperCode } "
        'homed: keepers(where: {homeEnclosure: {label: {eq: "Savanna"}}}) { keeperCode } }'
    )
    assert data["keepers"] == [
        {"keeperCode": "k-1", "homeEnclosure": {"label": "Savanna"}},
        {"keeperCode": "k-2", "homeEnclosure": None},
        {"keeperCode": "k-3", "homeEnclosure": {"label": "Aviary"}},
    ]
    assert data["enclosures"] == [
        {"label": "Savanna", "referringKeepers": [{"keeperCode": "k-1"}]},
        {"label": "Aviary", "referringKeepers": [{"keeperCode": "k-3"}]},
    ]
    assert data["byHome"] == [{"keeperCode": "k-3"}, {"keeperCode": "k-1"}, {"keeperCode": "k-2"}]
    assert data["homed"] == [{"keeperCode": "k-1"}]


async def test_bigint_values_link_to_an_int_key(api: Api) -> None:
    data = await api.data(
        "{ keepers { keeperCode buddy { name } } animal(animalNo: 2) { buddies { keeperCode } } "
        "buddied: keepers(where: {buddy: {}}) { keeperCode } }"
    )
    assert data["keepers"] == [
        {"keeperCode": "k-1", "buddy": {"name": "Bo"}},
        {"keeperCode": "k-2", "buddy": None},
        {"keeperCode": "k-3", "buddy": None},
    ]
    assert data["animal"] == {"buddies": [{"keeperCode": "k-1"}]}
    assert data["buddied"] == [{"keeperCode": "k-1"}]


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("contains", "a945", ["k-1"]),
        ("startsWith", "c56a", ["k-1"]),
        ("like", "%-42ec-%", ["k-1"]),
        ("ilike", "C56A%", ["k-1"]),
        ("eq", "C56A4180-65AA-42EC-A945-5FD21DEC0538", ["k-1"]),
        ("in", ["{c56a4180-65aa-42ec-a945-5fd21dec0538}"], ["k-1"]),
    ],
)
async def test_uuid_fields_take_the_string_operators(
    api: Api, operator: str, value: Any, expected: list[str]
) -> None:
    kind = "[String!]" if isinstance(value, list) else "String"
    data = await api.data(
        f"query($v: {kind}) {{ keepers(where: {{badge: {{{operator}: $v}}}}) {{ keeperCode }} }}",
        {"v": value},
    )
    assert [row["keeperCode"] for row in data["keepers"]] == expected


async def test_a_uuid_filter_value_must_be_a_uuid(api: Api) -> None:
    error = await api.error('{ keepers(where: {badge: {eq: "AUTH-SERVICE"}}) { keeperCode } }')
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argumentPath"] == ["keepers", "where", "badge", "eq"]
