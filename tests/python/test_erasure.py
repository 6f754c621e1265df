"""Erasure and rows deleted upstream (docs/semantics.md §3c), on DuckDB: one build of five runs.

1. The first runs' raw rows, with erasure requests of both scopes from the start.
2. Rows of new people, and rows carrying an erased value again (an incremental run).
3. More rows of the people seen, some in the partition of an erased profile (a full run).
4. Raw rows deleted upstream: the run notices and rebuilds.
5. New requests: the run rebuilds without the values they name.

After each run every mart equals the reference, and no stored table of the target schema holds
an erased value or its hash: a value a request names, or a value of a profile it erases.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from erasures import (
    ERASURE_COLUMNS,
    ErasureScenario,
    check,
    combined,
    erased_values,
    named_erasure_scenarios,
    random_deletes,
    random_erasures,
    requested_values,
    scan_for_values,
    without,
)
from idstitch.audit import run_audit
from idstitch.config import Config, parse_config
from idstitch.reference import erased_profile_nodes
from idstitch.runner import DbtProject

from conftest import project_var
from streams import Stream, random_case, random_stream, two_batches
from warehouse import (
    RAW_SCHEMA,
    assert_matches_reference,
    connect,
    corrupted_copy,
    last_run_was_full,
    query,
    write_raw,
)

SEED = 20261207
CASES = 60
SCHEMA = "idstitch"


def _write_erasures(path: Path, rows: list[dict[str, Any]]) -> None:
    """The project's erasure seed table (idstitch_erasures, in the seeds' schema), with `rows`."""
    con = duckdb.connect(str(path))
    try:
        columns = ", ".join(
            f"{c} {'timestamp' if c == 'requested_at' else 'varchar'}" for c in ERASURE_COLUMNS
        )
        con.execute(f"create or replace table {RAW_SCHEMA}.idstitch_erasures ({columns})")
        for r in rows:
            con.execute(
                f"insert into {RAW_SCHEMA}.idstitch_erasures values (?, ?, ?, ?, ?, ?)",
                [r[c] for c in ERASURE_COLUMNS],
            )
    finally:
        con.close()


@dataclass
class Run:
    stream: Stream  # the raw rows at this run
    erasures: list[dict[str, Any]]
    full_refresh: bool  # what the run decided
    leftovers: list[tuple[str, str, str]]  # erased values or hashes found in stored tables
    profile_nodes: int  # how many values the profile-scope requests erased


@dataclass
class ErasureBuild:
    path: Path
    project: DbtProject
    config: Config
    runs: list[Run]
    scenarios: list[ErasureScenario]


def _stored_tables(path: Path) -> list[str]:
    con = duckdb.connect(str(path))
    try:
        return [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables"
                f" where table_schema = '{SCHEMA}' and table_type = 'BASE TABLE'"
            ).fetchall()
        ]
    finally:
        con.close()


def _leftovers(
    path: Path, config: Config, stream: Stream, erasures: list[dict[str, Any]]
) -> tuple[list[Any], int]:
    """The erased values or hashes found in the stored tables, and how many values the
    profile-scope requests erased (by the reference)."""
    values, hashes, profile_values = erased_values(config, stream, erasures)
    con = duckdb.connect(str(path))
    try:
        views = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables"
                f" where table_schema = '{SCHEMA}' and table_type != 'BASE TABLE'"
            ).fetchall()
        ]
        assert _stored_tables(path) and views  # the scan below reads the tables, and only them
        found = scan_for_values(
            con,
            SCHEMA,
            values,
            hashes,
            exclude_tables=views,
        )
    finally:
        con.close()
    return found, profile_values


@pytest.fixture(scope="module")
def erasure_build(tmp_path_factory: pytest.TempPathFactory) -> ErasureBuild:
    raw = copy.deepcopy(project_var())
    config = parse_config(raw)
    scenarios = named_erasure_scenarios()
    assert {s.name for s in scenarios} == {
        "forget_joining_email",
        "forget_whole_profile",
        "erased_value_arrives_again",
        "row_deleted_upstream",
    }
    rand = random_stream(CASES, SEED, rules=True)
    first = two_batches(rand, SEED)
    # run 3 deletes rows the earlier runs read, and adds a request
    # (never-merge rows are rules: a change to them makes a full run by the rules hash)
    deletes = [d for d in random_deletes(first, SEED, 0.05) if d[0] != "never_merge"]
    deletes += [d for s in scenarios for d in s.deleted]
    early = random_erasures(rand, SEED, 0.08, config)
    late = random_erasures(rand, SEED + 1, 0.04, config)
    late = [{**r, "erasure_id": "late_" + r["erasure_id"]} for r in late]
    named = [r for s in scenarios for r in s.erasures]
    # new people only (own namespaces, no rule rows): a run that stays incremental
    fresh = combined([random_case(case, SEED) for case in range(CASES, CASES + 6)])
    # a scenario's rows grow with the runs (ErasureScenario.at_stage)
    requests = early + named

    def scenarios_at(stage: int) -> list[Stream]:
        return [s.at_stage(stage) for s in scenarios]

    plan = [
        (combined([first, *scenarios_at(0)]), requests),
        (combined([first, fresh, *scenarios_at(1)]), requests),
        (combined([rand, fresh, *scenarios_at(2)]), requests),
        (without(combined([rand, fresh, *scenarios_at(3)]), deletes), requests),
    ]
    plan.append((plan[3][0], requests + late))

    path = tmp_path_factory.mktemp("erasure") / "erasure.duckdb"
    project = DbtProject(duckdb_path=path, vars={"idstitch": raw})
    runs = []
    for stream, erasures in plan:
        write_raw(path, stream)
        _write_erasures(path, erasures)
        project.invoke(["build", "--exclude", "resource_type:seed"], quiet=True)
        full = last_run_was_full(path)
        runs.append(Run(stream, erasures, full, *_leftovers(path, config, stream, erasures)))
        # every run's marts equal the reference on that run's rows and requests
        assert_matches_reference(path, config, stream, erasures)
    return ErasureBuild(path, project, config, runs, scenarios)


def test_each_run_equals_the_reference_and_leaves_no_erased_value(
    erasure_build: ErasureBuild,
) -> None:
    # (the fixture compares each run with the reference as it goes)
    runs = erasure_build.runs
    # run 2 brought new people only: incremental. Run 3 brought rows of the people already
    # seen, some in the partition of an erased profile: it rebuilt everything after reading the
    # new rows. Run 4 saw the rows deleted upstream, run 5 the new requests: each rebuilt
    # everything.
    assert [r.full_refresh for r in runs] == [True, False, True, True, True]
    for run in runs:
        assert run.erasures and not run.leftovers, run.leftovers
        # profile-scope requests bound too: whole profiles were erased, not just the values named
        assert run.profile_nodes > 5, run.profile_nodes
    # the requests bound: values were erased, in every kind of table they would have reached;
    # and the new requests of the last run broke profiles that held together through erased
    # values or events: lineage records the splits (docs/semantics.md §4)
    con = connect(erasure_build.path)
    try:
        erased = query(
            con,
            "select count(*), count(raw_value) from idstitch_rejected_identifiers"
            " where reason = 'erased'",
        )
        reasons = query(
            con,
            "select distinct reason from rudder_id_lineage where run_id ="
            " (select batch_id from idstitch_batches order by run_number desc limit 1)",
        )
    finally:
        con.close()
    assert erased[0][0] > 20 and erased[0][1] == 0
    assert ("split",) in reasons, reasons


def test_the_named_scenarios_hold(erasure_build: ErasureBuild) -> None:
    con = connect(erasure_build.path)
    try:
        rudder = {
            (t, v): r
            for t, v, r in query(
                con, "select id_type, id_value, rudder_id from rudder_identity_mappings"
            )
        }
        identified = set(query(con, "select source, event_id from rudder_identified_events"))
        rejected = set(query(con, "select source, event_id, reason from idstitch_rejected_events"))
    finally:
        con.close()
    for s in erasure_build.scenarios:
        problems = check(s, rudder.get, identified, rejected)
        assert not problems, f"{s.name}: {problems}"


def test_a_full_refresh_gives_the_same_marts(erasure_build: ErasureBuild) -> None:
    last = erasure_build.runs[-1]
    erasure_build.project.invoke(
        ["build", "--exclude", "resource_type:seed", "--full-refresh"], quiet=True
    )
    assert_matches_reference(erasure_build.path, erasure_build.config, last.stream, last.erasures)
    # and a rerun with nothing new and nothing deleted stays incremental, changing nothing
    erasure_build.project.invoke(["build", "--exclude", "resource_type:seed"], quiet=True)
    con = connect(erasure_build.path)
    try:
        ((full, copies),) = query(
            con,
            "select full_refresh, copy_count from idstitch_batches"
            " order by run_number desc limit 1",
        )
    finally:
        con.close()
    assert not full and copies == 0
    assert_matches_reference(erasure_build.path, erasure_build.config, last.stream, last.erasures)


def test_the_audit_checks_the_erased_profiles(erasure_build: ErasureBuild, tmp_path: Path) -> None:
    """`idstitch audit` on the build: the erasures check passes and says it looked for the
    values of erased profiles too; the replay applies the requests. A mapping row left for a
    value of an erased profile that no request names is found, by table and column."""
    result = run_audit(erasure_build.path, replay=15)
    checks = {c.name: c for c in result.checks}
    erasures = checks["erasures honoured"]
    assert erasures.ok and not erasures.skipped
    assert "value of an erased profile" in erasures.detail
    replay = checks["replay of sampled profiles"]
    assert replay.ok and not replay.skipped, (replay.detail, replay.examples)

    last = erasure_build.runs[-1]
    named = set(requested_values(erasure_build.config, last.erasures))
    whole = erased_profile_nodes(
        erasure_build.config, last.stream.rows, last.stream.rows.get("never_merge", []),
        last.erasures,
    )  # fmt: skip
    id_type, left = next((t, v) for t, v in whole if v not in named)
    path = corrupted_copy(
        erasure_build.path,
        tmp_path / "left.duckdb",
        [
            "insert into idstitch.rudder_identity_mappings (rudder_id, id_type, id_value)"
            f" select rudder_id, '{id_type}', '{left}' from idstitch.rudder_identity_mappings"
            " limit 1"
        ],
    )
    check = next(c for c in run_audit(path, replay=0).checks if c.name == "erasures honoured")
    assert not check.ok
    places = {(e["table"], e["column"], e["erasure_id"]) for e in check.examples}
    assert ("rudder_identity_mappings", "id_value", "(a profile request)") in places
