"""The README's example queries run and find rows in the sample data, on both databases."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api import Api

README = Path(__file__).resolve().parent.parent / "README.md"


def _queries() -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", README.read_text(), flags=re.DOTALL)


async def test_readme_queries_answer(api: Api) -> None:
    queries = _queries()
    assert len(queries) >= 3
    for query in queries:
        data = await api.data(query)
        (rows,) = data.values()
        found = rows["edges"] if isinstance(rows, dict) else rows
        assert found, f"no rows for README query:\n{query}"
