"""The floor of bench/ingest.py: JSON Lines into a table by hand-written code, as a program.

orjson + psycopg COPY in one transaction, no validation, no checks. A program of its own, so it
pays a start-up (interpreter, imports, connection) as `grace-graph load` does, and imports
nothing of the project.

Run by bench/ingest.py: `python bench/ingest_floor.py URL TABLE FILE COLUMNS JSON_COLUMNS`
(the column lists comma-separated).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import psycopg


def main(url: str, table: str, file: str, columns_text: str, json_text: str) -> None:
    columns = columns_text.split(",")
    json_columns = set(json_text.split(",")) if json_text else set()
    json_at = [k for k, c in enumerate(columns) if c in json_columns]
    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        Path(file).open("rb") as lines,
    ):
        for line in lines:
            row = orjson.loads(line)
            values: list[Any] = [row.get(c) for c in columns]
            for k in json_at:
                if values[k] is not None:
                    values[k] = orjson.dumps(values[k]).decode()
            copy.write_row(values)


if __name__ == "__main__":
    main(*sys.argv[1:6])
