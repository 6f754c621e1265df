"""Reading the marts of a DuckDB build (for audit and explain)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb


class Marts:
    """The tables of a DuckDB build, read with plain SQL. `tables` is empty when the schema
    does not exist, so callers can tell a missing build from a missing table."""

    def __init__(self, path: Path, schema: str) -> None:
        self.con = duckdb.connect(str(path))
        self.schema = schema
        self.tables: set[str] = set()
        if not self.con.execute(
            "select 1 from information_schema.schemata where schema_name = ?", [schema]
        ).fetchall():
            return
        # the catalog takes the file's name, which may equal the schema's: name tables unqualified
        self.con.execute(f"set schema = '{schema}'")
        self.tables = {
            r[0]
            for r in self.con.execute(
                "select table_name from information_schema.tables where table_schema = ?",
                [schema],
            ).fetchall()
        }

    def has(self, table: str) -> bool:
        return table in self.tables

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, list(params))
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.con.execute(sql, list(params)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        self.con.close()
