"""audit and explain after an incremental run: they read only global tables (the marts and the
observation index), not the intermediate tables, which then hold just the last run's working set.

One build of generated data in two runs: a full run without a random 30% of the raw rows, then
an incremental run once they arrive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from idstitch.audit import run_audit
from idstitch.cli import main
from idstitch.config import parse_config
from idstitch.explain import explain
from idstitch.generate import RAW_SCHEMA, write_duckdb
from idstitch.runner import DbtProject

from conftest import project_var
from warehouse import connect, query

PEOPLE = 300
SEED = 7
HELD_BACK = 3  # tenths of each raw table's rows, drawn by a hash of the row id
INDEX = "int_idstitch__observation_index"
REPLAY = "replay of sampled profiles"


@dataclass
class IncrementalBuild:
    path: Path
    events: int  # accepted events, all in the index
    working: set[tuple[str, str]]  # the events the last (incremental) run re-resolved


def _raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? and table_name like 'raw_%' order by table_name",
            [RAW_SCHEMA],
        ).fetchall()
    ]


def _hold_back(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        for table in _raw_tables(con):
            pick = f"hash(rowid, {SEED}) % 10 < {HELD_BACK}"
            con.execute(
                f"create table {RAW_SCHEMA}.held_{table} as "
                f"select * from {RAW_SCHEMA}.{table} where {pick}"
            )
            con.execute(f"delete from {RAW_SCHEMA}.{table} where {pick}")
    finally:
        con.close()


def _release(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        for table in _raw_tables(con):
            con.execute(f"insert into {RAW_SCHEMA}.{table} select * from {RAW_SCHEMA}.held_{table}")
            con.execute(f"drop table {RAW_SCHEMA}.held_{table}")
    finally:
        con.close()


@pytest.fixture(scope="module")
def incremental_build(tmp_path_factory: pytest.TempPathFactory) -> IncrementalBuild:
    path = tmp_path_factory.mktemp("audit_incremental") / "incremental.duckdb"
    write_duckdb(path, PEOPLE, SEED)
    _hold_back(path)
    project = DbtProject(duckdb_path=path)
    project.invoke(["build", "--exclude", "resource_type:seed"])
    _release(path)
    project.invoke(["build", "--exclude", "resource_type:seed"])
    con = connect(path)
    try:
        last = query(
            con, "select full_refresh from idstitch_batches order by run_number desc limit 1"
        )
        assert last == [(False,)], "the second build must be incremental"
        events = query(con, f"select count(distinct (source, event_id)) from {INDEX}")[0][0]
        working = set(
            query(con, "select distinct source, event_id from int_idstitch__observations")
        )
    finally:
        con.close()
    # the intermediate tables hold only the working set: what the audit must not rely on
    assert 0 < len(working) < events
    return IncrementalBuild(path, events, working)


def test_replay_of_every_profile_covers_events_the_last_run_did_not_resolve(
    incremental_build: IncrementalBuild,
) -> None:
    result = run_audit(incremental_build.path, replay=100_000)
    assert result.ok, [(c.name, c.detail, c.examples) for c in result.failed]
    replay = next(c for c in result.checks if c.name == REPLAY)
    assert not replay.skipped
    # every profile replayed: its closure is every accepted event, not only the working set
    assert f"replayed with the {incremental_build.events} events" in replay.detail


def test_audit_command_with_truth_passes(
    incremental_build: IncrementalBuild, tmp_path: Path
) -> None:
    report = tmp_path / "audit.json"
    result = CliRunner().invoke(
        main,
        [
            "audit",
            "--duckdb",
            str(incremental_build.path),
            "--truth",
            "true_person_id",
            "--json",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    replay = next(c for c in data["checks"] if c["name"] == REPLAY)
    assert replay["ok"] and not replay["skipped"]
    assert data["truth"]["events_scored"] > len(incremental_build.working)


def test_explain_finds_the_event_of_a_pair_the_last_run_did_not_resolve(
    incremental_build: IncrementalBuild,
) -> None:
    con = connect(incremental_build.path)
    try:
        # an applied merge rule whose every event lies outside the last run's working set
        t1, v1, t2, v2, source, event_id = query(
            con,
            f"""
            with carried as (
                select anchor.id_type as t1, anchor.id_value as v1,
                       other.id_type as t2, other.id_value as v2,
                       anchor.source, anchor.event_id, anchor.occurred_at,
                       working.source is not null as in_working_set
                from {INDEX} as anchor
                inner join {INDEX} as other
                    on anchor.source = other.source and anchor.event_id = other.event_id
                left join (select distinct source, event_id from int_idstitch__observations)
                    as working
                    on anchor.source = working.source and anchor.event_id = working.event_id
                where anchor.id_position = 1 and not anchor.is_alias
            ),
            untouched as (
                select t1, v1, t2, v2,
                       arg_min(source, (occurred_at, source, event_id)) as first_source,
                       arg_min(event_id, (occurred_at, source, event_id)) as first_event_id
                from carried
                group by all
                having not bool_or(in_working_set)
            )
            select u.t1, u.v1, u.t2, u.v2, u.first_source, u.first_event_id
            from untouched as u
            inner join rudder_identity_merge_rules as r
                on u.t1 = r.id1_type and u.v1 = r.id1_value
                and u.t2 = r.id2_type and u.v2 = r.id2_value
            where r.applied
            order by all
            limit 1""",
        )[0]
    finally:
        con.close()
    assert (source, event_id) not in incremental_build.working
    e = explain(incremental_build.path, f"{t1}:{v1}", f"{t2}:{v2}", parse_config(project_var()))
    assert e.same_profile
    assert [(h.a, h.b, h.source, h.event_id) for h in e.path] == [
        ((t1, v1), (t2, v2), source, event_id)
    ]
