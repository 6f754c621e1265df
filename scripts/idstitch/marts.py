"""Reading idstitch's tables for audit and explain: from a DuckDB file, or from any dbt target
through its adapter, opened in this process.

Both readers take the same query text. A query names each model as `{model}` (as the
`idstitch_query` operation does), and writes what differs by warehouse through the reader's
:class:`Dialect` (string literals, md5, casts, regular expressions, string aggregation), so that
every aggregate runs in the warehouse and only its answer comes back. Values come back as the
driver gives them, normalized so that every warehouse reads alike: whole decimals as ints,
other decimals as floats, times as naive UTC datetimes, column names in lower case.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from idstitch.runner import DbtError, DbtProject


@dataclass(frozen=True)
class Dialect:
    """How one warehouse spells what the audit and explain need; the Python twin of the
    project's dispatched string macros (macros/sql/idstitch_strings.sql, idstitch_literal.sql)."""

    name: str  # duckdb | snowflake | bigquery

    def literal(self, value: Any) -> str:
        """A string literal for any value (numbers and booleans as their text). A value with a
        `{` is written as pieces that each end at one, so that no `{model}` placeholder can
        appear in it (Marts.sql replaces those)."""
        text = str(value)
        if "{" in text[:-1]:
            pieces = [piece + "{" for piece in text.split("{")]
            pieces[-1] = pieces[-1][:-1]
            return "(" + " || ".join(self.literal(p) for p in pieces if p) + ")"
        if self.name == "snowflake":
            return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
        if self.name == "bigquery":
            return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + text.replace("'", "''") + "'"

    def literals(self, values: Iterable[Any]) -> str:
        """A parenthesized list of literals for `in (...)`; never empty."""
        spelled = [self.literal(v) for v in values]
        return "(" + (", ".join(spelled) if spelled else "null") + ")"

    def text(self, expr: str) -> str:
        return f"cast({expr} as {'string' if self.name == 'bigquery' else 'varchar'})"

    def md5(self, expr: str) -> str:
        """Lowercase hex md5, as the pipeline computes a rudder_id."""
        return f"to_hex(md5({expr}))" if self.name == "bigquery" else f"lower(md5({expr}))"

    def chr(self, code: int) -> str:
        return f"code_points_to_string([{code}])" if self.name == "bigquery" else f"chr({code})"

    def trim(self, expr: str) -> str:
        """Strip spaces, tabs and line breaks from both ends, as staging does."""
        chars = " || ".join(["' '", self.chr(9), self.chr(10), self.chr(13)])
        return f"trim({expr}, {chars})"

    def regex_contains(self, expr: str, pattern: str) -> str:
        if self.name == "snowflake":
            return f"(regexp_instr({expr}, {self.literal(pattern)}) > 0)"
        if self.name == "bigquery":
            return f"regexp_contains({expr}, {self.literal(pattern)})"
        return f"regexp_matches({expr}, {self.literal(pattern)})"

    def string_agg(self, expr: str, separator: str, order_by: str) -> str:
        sep = self.literal(separator)
        if self.name == "snowflake":
            return f"listagg({expr}, {sep}) within group (order by {order_by})"
        return f"string_agg({expr}, {sep} order by {order_by})"

    def column(self, name: str) -> str:
        """A column of a user's raw table, as the project's idstitch_column macro spells it."""
        if self.name == "snowflake":
            name = name.upper() if name == name.lower() else name
            return '"' + name.replace('"', '""') + '"'
        if self.name == "bigquery":
            return "`" + name.replace("`", "\\`") + "`"
        return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Relation:
    """A table outside the marts (a raw table, a truth table): how a query names it, and where
    it is, for messages and for reading its columns."""

    sql: str
    database: str | None
    schema: str
    identifier: str

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.identifier}"


def plain(value: Any) -> Any:
    """A value as every warehouse's driver should have given it."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


class Marts:
    """The tables of a build, read with plain SQL. `tables` holds the models that exist; it is
    empty when the schema does not, so callers can tell a missing build from a missing table."""

    dialect: Dialect
    tables: set[str]
    where: str  # how messages name the build

    def has(self, table: str) -> bool:
        return table in self.tables

    def is_seed(self, model: str) -> bool:
        """Whether a table is one of the project's seeds (inputs, not idstitch's output)."""
        return False

    def is_view(self, model: str) -> bool:
        """Whether a model is a view (it stores nothing: it shows the rows it reads)."""
        raise NotImplementedError

    def relation(self, model: str) -> str:
        raise NotImplementedError

    def sql(self, text: str) -> str:
        """The query with each `{model}` of an existing model replaced by its relation."""
        for table in self.tables:
            text = text.replace("{" + table + "}", self.relation(table))
        return text

    def _execute(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        raise NotImplementedError

    def rows(self, sql: str) -> list[dict[str, Any]]:
        names, rows = self._execute(self.sql(sql))
        return [dict(zip(names, row, strict=True)) for row in rows]

    def tuples(self, sql: str) -> list[tuple[Any, ...]]:
        return self._execute(self.sql(sql))[1]

    def one(self, sql: str) -> Any:
        rows = self.tuples(sql)
        return rows[0][0] if rows else None

    def raw_relation(self, node: Any) -> Relation:
        """A dbt source or model node of the parsed project, as a query names it."""
        raise NotImplementedError

    def table_relation(self, schema: str, table: str) -> Relation:
        """A table the user names as schema.table (in the target's database)."""
        raise NotImplementedError

    def columns(self, relation: Relation) -> list[str]:
        """The column names of a relation, as the warehouse stores them ([] if it is missing)."""
        raise NotImplementedError

    def text_columns(self, model: str) -> list[str]:
        """The names of a model's text columns (lower case)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @staticmethod
    def _normalized(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[
        list[str], list[tuple[Any, ...]]
    ]:  # fmt: skip
        return [n.lower() for n in names], [tuple(plain(v) for v in row) for row in rows]


class DuckDBMarts(Marts):
    """The tables of a DuckDB file, opened directly (the `--duckdb` shortcut)."""

    def __init__(self, path: Path, schema: str) -> None:
        self.con = duckdb.connect(str(path))
        self.schema = schema
        self.dialect = Dialect("duckdb")
        self.where = str(path)
        self.tables = set()
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

    def relation(self, model: str) -> str:
        return model

    def _execute(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = self.con.execute(sql)
        return self._normalized([d[0] for d in cursor.description or []], cursor.fetchall())

    def raw_relation(self, node: Any) -> Relation:
        identifier = getattr(node, "identifier", None) or node.alias
        return self.table_relation(node.schema, identifier)

    def table_relation(self, schema: str, table: str) -> Relation:
        quoted = '"' + schema.replace('"', '""') + '"."' + table.replace('"', '""') + '"'
        return Relation(quoted, None, schema, table)

    def columns(self, relation: Relation) -> list[str]:
        return [
            r[0]
            for r in self.con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [relation.schema, relation.identifier],
            ).fetchall()
        ]

    def is_view(self, model: str) -> bool:
        return bool(
            self.con.execute(
                "select 1 from information_schema.tables "
                "where table_schema = ? and table_name = ? and table_type = 'VIEW'",
                [self.schema, model],
            ).fetchall()
        )

    def text_columns(self, model: str) -> list[str]:
        return [
            r[0].lower()
            for r in self.con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ? "
                "and (data_type like 'VARCHAR%' or data_type in ('TEXT', 'STRING')) "
                "order by ordinal_position",
                [self.schema, model],
            ).fetchall()
        ]

    def close(self) -> None:
        self.con.close()


class AdapterMarts(Marts):
    """The tables of any dbt target, read through its adapter, opened in this process from the
    project's profile (the target, profiles directory and vars of `project`). Each model is
    named as `ref()` would name it on that target."""

    def __init__(self, project: DbtProject, manifest: Any = None) -> None:
        self.project = project
        self.manifest = manifest if manifest is not None else project.parse()
        self.adapter = _open_adapter(project, self.manifest)
        self.dialect = Dialect(self.adapter.type())
        self.where = f"dbt target {project.target or '(default)'}"
        self._connection = self.adapter.connection_named("idstitch")
        self._connection.__enter__()
        self._models = {
            node.name: node
            for node in self.manifest.nodes.values()
            if node.resource_type in ("model", "seed") and node.package_name == "idstitch"
        }
        self.tables = set()
        try:
            for name, node in self._models.items():
                found = self.adapter.get_relation(node.database, node.schema, node.alias)
                if found is not None:
                    self.tables.add(name)
        except Exception as e:
            self.close()
            raise DbtError(f"cannot read the tables of {self.where}: {e}") from e

    def relation(self, model: str) -> str:
        name: str = self._models[model].relation_name
        return name

    def _execute(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        connections = self.adapter.connections
        try:
            if self.dialect.name == "bigquery":
                _, iterator = connections.raw_execute(sql)
                rows = list(iterator)
                names = [f.name for f in iterator.schema] if iterator.schema else []
                return self._normalized(names, (tuple(r.values()) for r in rows))
            _, cursor = connections.add_query(sql, auto_begin=False)
            names = [d[0] for d in cursor.description or []]
            return self._normalized(names, cursor.fetchall())
        except Exception as e:  # the driver's own errors: permissions, a missing raw table
            raise DbtError(f"a query failed on {self.where}: {e}") from e

    def execute(self, sql: str) -> None:
        """A statement that writes (DDL, an insert), committed at once. BigQuery runs each job
        on its own; the others run it in a transaction of dbt's connection and commit it."""
        if self.dialect.name == "bigquery":
            self._execute(sql)
            return
        connections = self.adapter.connections
        try:
            if not connections.get_thread_connection().transaction_open:
                connections.begin()
            connections.add_query(sql, auto_begin=False)
            connections.commit()
        except Exception as e:
            raise DbtError(f"a statement failed on {self.where}: {e}") from e

    def raw_relation(self, node: Any) -> Relation:
        identifier = getattr(node, "identifier", None) or node.alias
        return Relation(node.relation_name, node.database, node.schema, identifier)

    def table_relation(self, schema: str, table: str) -> Relation:
        database = self.adapter.config.credentials.database
        relation = self.adapter.Relation.create(database, schema, table)
        return Relation(str(relation), database, schema, table)

    def columns(self, relation: Relation) -> list[str]:
        found = self.adapter.get_relation(relation.database, relation.schema, relation.identifier)
        if found is None:
            return []
        return [c.column for c in self.adapter.get_columns_in_relation(found)]

    def text_columns(self, model: str) -> list[str]:
        node = self._models[model]
        found = self.adapter.get_relation(node.database, node.schema, node.alias)
        if found is None:
            return []
        return [
            str(c.column).lower()
            for c in self.adapter.get_columns_in_relation(found)
            if c.is_string()
        ]

    def is_seed(self, model: str) -> bool:
        return bool(self._models[model].resource_type == "seed")

    def is_view(self, model: str) -> bool:
        node = self._models[model]
        found = self.adapter.get_relation(node.database, node.schema, node.alias)
        return found is not None and str(found.type).lower().endswith("view")

    def close(self) -> None:
        try:
            self._connection.__exit__(None, None, None)
        finally:
            from dbt.adapters.factory import reset_adapters

            self.adapter.cleanup_connections()
            reset_adapters()  # type: ignore[no-untyped-call]


def _open_adapter(project: DbtProject, manifest: Any) -> Any:
    """The dbt adapter of the project's target, registered in this process as dbt's own
    commands register it, with the parsed project's macros (some adapter methods run them)."""
    import json

    from dbt.adapters.factory import get_adapter, register_adapter
    from dbt.cli.flags import Flags, args_to_context
    from dbt.config.runtime import RuntimeConfig
    from dbt.context.providers import generate_runtime_macro_context
    from dbt.flags import set_flags
    from dbt.mp_context import get_mp_context
    from dbt_common.context import set_invocation_context

    if project.duckdb_path is not None:
        os.environ["IDSTITCH_DUCKDB_PATH"] = str(project.duckdb_path)
    set_invocation_context(dict(os.environ))
    args = ["run-operation", "idstitch_query", "--project-dir", str(project.project_dir)]
    args += ["--profiles-dir", str(project.profiles_dir or project.project_dir)]
    if project.target:
        args += ["--target", project.target]
    if project.vars:
        args += ["--vars", json.dumps(dict(project.vars), default=str)]
    try:
        flags = Flags(args_to_context(args))
        set_flags(flags)  # type: ignore[no-untyped-call]
        config = RuntimeConfig.from_args(flags)
        register_adapter(config, get_mp_context())
    except Exception as e:  # dbt's profile and project errors, and click's
        raise DbtError(f"cannot open the dbt target: {e}") from e
    adapter = get_adapter(config)
    adapter.set_macro_resolver(manifest)
    adapter.set_macro_context_generator(generate_runtime_macro_context)
    return adapter
