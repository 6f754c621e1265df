"""Rows deleted upstream from sources read by their load time (docs/incremental.md, "Rows deleted
upstream"), on DuckDB: one build of seven runs over the same random stream.

Such a source is not compared key by key on every run: int_idstitch__raw_row_counts keeps how
many raw rows lie before the watermark, and the next run counts them again and compares only the
newest copies. These runs check that a row deleted before the watermark, and one deleted at the
watermark (re-read by every run), are both noticed; that a count the run cannot vouch for makes
it compare in full; and that every run's marts equal the reference on the rows left.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from idstitch.config import Config, parse_config
from idstitch.runner import DbtProject
from rules import by_load_time

from conftest import project_var
from streams import BASE_TIME, TABLES, Stream, random_stream
from warehouse import (
    LOADED_AT,
    RAW_SCHEMA,
    assert_matches_reference,
    connect,
    last_run_was_full,
    query,
    write_raw,
)

SEED = 20261208
CASES = 40
BATCHES = 3


def load_time(batch: int) -> Any:
    return BASE_TIME + timedelta(days=40 + batch)


@dataclass
class Run:
    name: str
    full_refresh: bool
    counts: dict[str, tuple[Any, int | None]]  # source -> (watermark, rows_below)
    raw_below: dict[str, int]  # source -> raw rows before the watermark, counted by the test


@dataclass
class DeletionBuild:
    runs: list[Run]
    sources: set[str]  # the sources read by load time


def _event_ids(raw: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["event_id"] for s in raw["sources"]}


def _record(path: Path, raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    con = connect(path)
    try:
        counts = {
            s: (w, n)
            for s, w, n in query(
                con, "select source, watermark, rows_below from int_idstitch__raw_row_counts"
            )
        }
        below = {}
        for source, (watermark, _) in counts.items():
            table = TABLES[source][0]
            row = con.execute(
                f"select count(*) from {RAW_SCHEMA}.{table} where {LOADED_AT} < ?", [watermark]
            ).fetchone()
            assert row is not None
            below[source] = int(row[0])
    finally:
        con.close()
    return counts, below


def _delete(path: Path, source: str, column: str, value: str) -> None:
    con = connect(path)
    try:
        con.execute(f'delete from {RAW_SCHEMA}.{TABLES[source][0]} where "{column}" = ?', [value])
    finally:
        con.close()


def _without(stream: Stream, source: str, column: str, value: str) -> Stream:
    out = Stream()
    for s, rows in stream.rows.items():
        out.rows[s] = [r for r in rows if not (s == source and r[column] == value)]
    return out


@pytest.fixture(scope="module")
def deletion_build(tmp_path_factory: pytest.TempPathFactory) -> DeletionBuild:
    raw = by_load_time(project_var(), tuple(s["name"] for s in project_var()["sources"]))
    config: Config = parse_config(raw)
    ids = _event_ids(raw)
    stream = random_stream(CASES, SEED, rules=True)
    rng = random.Random(SEED)
    batches = [Stream() for _ in range(BATCHES)]
    for source, rows in stream.rows.items():
        for row in rows:
            batch = 0 if source == "never_merge" else rng.randrange(BATCHES)
            batches[batch].rows[source].append(row)

    path = tmp_path_factory.mktemp("deleted_rows") / "deleted.duckdb"
    project = DbtProject(duckdb_path=path, vars={"idstitch": raw})
    seen = Stream()
    runs: list[Run] = []

    def build(name: str, expected: Stream) -> None:
        project.invoke(["build", "--exclude", "resource_type:seed"], quiet=True)
        runs.append(Run(name, last_run_was_full(path), *_record(path, raw)))
        assert_matches_reference(path, config, expected)

    def arrive(batch: int) -> None:
        write_raw(path, batches[batch], load_time(batch))
        seen.extend(batches[batch])

    def delete_one(name: str, batch: int) -> None:
        """Upstream deletes the raw rows of a web_tracks event that came only in `batch`; the
        next run must see it."""
        nonlocal seen
        column = ids["web_tracks"]
        others = [b for i, b in enumerate(batches) if i != batch]
        other = {r[column] for b in others for r in b.rows["web_tracks"]}
        value = next(
            r[column]
            for r in batches[batch].rows["web_tracks"]
            if r[column] and r[column].strip() and r[column] not in other
        )
        _delete(path, "web_tracks", column, value)
        seen = _without(seen, "web_tracks", column, value)
        build(name, seen)

    arrive(0)
    build("first", seen)
    arrive(1)
    build("second batch", seen)
    # a row of the first batch, loaded before the watermark
    delete_one("deleted before the watermark", 0)
    arrive(2)
    build("third batch", seen)
    # a row of the last batch, loaded at the watermark (every run reads those rows again)
    delete_one("deleted at the watermark", 2)
    # a count the last run could not vouch for: the next run compares in full, finds nothing
    con = connect(path)
    try:
        con.execute("update int_idstitch__raw_row_counts set rows_below = null")
    finally:
        con.close()
    build("no count to trust", seen)
    build("nothing new", seen)
    return DeletionBuild(runs, set(ids))


def test_deletions_before_and_at_the_watermark_rebuild(deletion_build: DeletionBuild) -> None:
    # (the fixture compares every run's marts with the reference on the rows left)
    assert [(r.name, r.full_refresh) for r in deletion_build.runs] == [
        ("first", True),
        ("second batch", False),
        ("deleted before the watermark", True),
        ("third batch", False),
        ("deleted at the watermark", True),
        ("no count to trust", False),
        ("nothing new", False),
    ]


def test_each_run_records_the_rows_before_its_watermark(deletion_build: DeletionBuild) -> None:
    for run in deletion_build.runs:
        # every source read by load time has a count, and it is the true count
        assert set(run.counts) == deletion_build.sources
        for source, (watermark, rows_below) in run.counts.items():
            assert watermark is not None, (run.name, source)
            assert rows_below == run.raw_below[source], (run.name, source)
    # the watermark moved with the batches, and rows lay before it after the first run
    first, second = deletion_build.runs[0], deletion_build.runs[1]
    assert second.counts["web_tracks"][0] > first.counts["web_tracks"][0]
    assert second.counts["web_tracks"][1] > 0
