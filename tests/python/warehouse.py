"""Reading a DuckDB build back into the reference's shapes, and writing raw test streams."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from idstitch.config import Config
from idstitch.reference import EdgeRow, MappingRow, ProfileRow, Result

from streams import LOADED_AT, TABLES, TIME_COLUMNS, Stream, values_batches

SCHEMA = "idstitch"
RAW_SCHEMA = "idstitch_raw"


def connect(path: Path, schema: str = SCHEMA) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute(f"set schema = '{schema}'")
    return con


def copy_database(source: Path, target: Path) -> None:
    """Copy a DuckDB file that dbt may still hold open, write-ahead log flushed first."""
    con = connect(source)
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    shutil.copy(source, target)


def corrupted_copy(source: Path, target: Path, statements: list[str]) -> Path:
    """A copy of a build with some SQL applied to its marts (to see checks fail)."""
    copy_database(source, target)
    con = connect(target)
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()
    return target


def write_raw(path: Path, stream: Stream, loaded_at: datetime | None = None) -> None:
    """Create the demo raw tables in `path` and fill them with the stream's rows. With
    `loaded_at`, the tables (created on first use, with a `_loaded_at` column) keep their rows
    and the stream's rows are appended, each stamped with that load time."""
    con = duckdb.connect(str(path))
    try:
        con.execute(f"create schema if not exists {RAW_SCHEMA}")
        for source, (table, columns) in TABLES.items():
            types = ", ".join(
                f'"{c}" {"timestamp" if c in TIME_COLUMNS else "varchar"}' for c in columns
            )
            rows = stream.rows.get(source, [])
            if loaded_at is None:
                con.execute(f"create or replace table {RAW_SCHEMA}.{table} ({types})")
            else:
                con.execute(
                    f"create table if not exists {RAW_SCHEMA}.{table}"
                    f" ({types}, {LOADED_AT} timestamp)"
                )
                rows = [{**row, LOADED_AT: loaded_at} for row in rows]
                columns = [*columns, LOADED_AT]
            for values in values_batches(rows, columns, _literal, 5000):
                con.execute(f"insert into {RAW_SCHEMA}.{table} values {values}")
    finally:
        con.close()


def last_run_was_full(path: Path) -> bool:
    """Whether the last finished run of a build rebuilt everything (idstitch_batches)."""
    con = connect(path)
    try:
        ((full,),) = query(
            con, "select full_refresh from idstitch_batches order by run_number desc limit 1"
        )
    finally:
        con.close()
    return bool(full)


def rudder_ids(path: Path) -> dict[tuple[str, str], str]:
    """(id_type, id_value) -> rudder_id of a build's mapping."""
    con = connect(path)
    try:
        return {
            (t, v): r
            for t, v, r in query(
                con, "select id_type, id_value, rudder_id from rudder_identity_mappings"
            )
        }
    finally:
        con.close()


def csv_rows(path: Path, *time_columns: str | None) -> list[dict[str, Any]]:
    """The rows of a seed file as raw rows for idstitch.reference: blanks are nulls, and the
    named columns are timestamps."""
    with open(path, newline="") as f:
        return [
            {
                k: (None if v == "" else datetime.fromisoformat(v) if k in time_columns else v)
                for k, v in row.items()
            }
            for row in csv.DictReader(f)
        ]


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return f"timestamp '{value.isoformat(sep=' ')}'"
    return "'" + str(value).replace("'", "''") + "'"


def query(con: Any, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def read_result(con: Any, config: Config, quote: Any = None) -> Result:
    """The marts of a build, in the shapes of idstitch.reference.Result.

    `con` is anything whose `execute(sql).fetchall()` answers (DuckDB, a Snowflake cursor);
    `quote` spells a trait column as the warehouse named it (Snowflake upper-cases).
    """
    quote = quote or (lambda name: f'"{name}"')
    result = Result()
    for t, v, rid, shared, first, last, sources, events in query(
        con,
        """
        select id_type, id_value, rudder_id, is_shared, first_seen_at, last_seen_at,
               source_count, event_count
        from rudder_identity_mappings""",
    ):
        result.mappings[(t, v)] = MappingRow(rid, first, last, sources, events, shared)
    for t1, v1, t2, v2, first, last, n, sources, applied, reason in query(
        con,
        """
        select id1_type, id1_value, id2_type, id2_value, first_seen_at, last_seen_at,
               event_count, sources, applied, skip_reason
        from rudder_identity_merge_rules""",
    ):
        result.merge_rules[(t1, v1, t2, v2)] = EdgeRow(first, last, n, sources, applied, reason)
    traits = config.trait_names
    trait_cols = "".join(f", {quote(t)}" for t in traits)
    for row in query(
        con,
        f"""
        select rudder_id, primary_id_type, primary_id_value, identifier_count, first_seen_at,
               last_seen_at{trait_cols}
        from rudder_profiles""",
    ):
        result.profiles[row[0]] = ProfileRow(
            row[1], row[2], row[3], row[4], row[5], dict(zip(traits, row[6:], strict=True))
        )
    for source, event_id, occurred_at, rid in query(
        con, "select source, event_id, occurred_at, rudder_id from rudder_identified_events"
    ):
        result.identified_events[(source, event_id)] = (occurred_at, rid)
    result.rejected_events = Counter(
        query(con, "select source, event_id, occurred_at, reason from idstitch_rejected_events")
    )
    result.rejected_identifiers = set(
        query(
            con,
            "select source, event_id, id_type, raw_value, reason"
            " from idstitch_rejected_identifiers",
        )
    )
    for target, table in (
        (result.limit_violations, "idstitch_limit_violations"),
        (result.skipped_aliases, "idstitch_skipped_aliases"),
    ):
        target.update(
            query(
                con,
                f"""
            select source, event_id, id_type, id_value, rudder_id, reason, limit_type
            from {table}""",
            )
        )
    result.shared_identifiers = set(
        query(
            con,
            "select id_type, id_value, linked_type, distinct_linked"
            " from idstitch_shared_identifiers",
        )
    )
    return result


def _case_of(key: Any) -> str:
    """The namespace (case) a row belongs to, for readable diffs."""
    text = repr(key)
    for token in text.replace("'", " ").replace(",", " ").split():
        if token[:1] in "crsx" and "_" in token:
            head = token.split("_")
            return head[0] if token[0] in "cr" else "_".join(head[:2])
    return "?"


def diff_results(expected: Result, actual: Result, limit: int = 12) -> list[str]:
    """Human-readable differences between two results, grouped by table and case."""
    lines: list[str] = []
    for table in (
        "mappings",
        "merge_rules",
        "profiles",
        "identified_events",
        "rejected_events",
        "rejected_identifiers",
        "limit_violations",
        "skipped_aliases",
        "shared_identifiers",
    ):
        e, a = getattr(expected, table), getattr(actual, table)
        if e == a:
            continue
        if isinstance(e, dict):
            keys = sorted(set(e) | set(a), key=repr)
            bad = [k for k in keys if e.get(k) != a.get(k)]
            cases = sorted({_case_of(k) for k in bad})
            lines.append(f"{table}: {len(bad)} rows differ in {len(cases)} cases: {cases[:10]}")
            lines += [f"  {k}: reference={e.get(k)} sql={a.get(k)}" for k in bad[:limit]]
        else:
            missing, extra = set(e) - set(a), set(a) - set(e)
            if isinstance(e, Counter):
                missing, extra = set((e - a).elements()), set((a - e).elements())
            lines.append(f"{table}: {len(missing)} only in reference, {len(extra)} only in sql")
            lines += [f"  reference only: {k}" for k in sorted(missing, key=repr)[:limit]]
            lines += [f"  sql only: {k}" for k in sorted(extra, key=repr)[:limit]]
    return lines


def assert_matches_reference(
    path: Path,
    config: Config,
    stream: Stream,
    erasures: Sequence[Mapping[str, Any]] = (),
) -> Result:
    """Compare every mart of a build with idstitch.reference (given the erasure requests, if
    any); return the reference result."""
    from idstitch.reference import stitch

    expected = stitch(config, stream.rows, stream.rows.get("never_merge", []), erasures)
    con = connect(path)
    try:
        actual = read_result(con, config)
    finally:
        con.close()
    problems = diff_results(expected, actual)
    assert not problems, "SQL differs from the reference:\n" + "\n".join(problems)
    return expected
