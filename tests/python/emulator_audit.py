"""What the emulator tests share for `idstitch audit` and `idstitch explain` on a target: the
generated data set to load, the DuckDB audit and explanation to compare with, and the
comparisons, each with the differences they allow and why."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from idstitch.audit import AuditResult, run_audit
from idstitch.config import parse_config
from idstitch.explain import explain
from idstitch.generate import RAW_SCHEMA, TABLES, TRUTH_COLUMN
from idstitch.report import render_html
from idstitch.runner import DbtProject

from conftest import project_var
from streams import TABLES as STREAM_TABLES
from streams import RawTables

REPLAY = 25  # profiles the audits replay: the same sample on every warehouse (md5 order)
RULE_TABLES = ("manual_merges", "never_merge")  # the demo var's rule relations, empty here


def generated_tables(path: Path) -> RawTables:
    """The raw tables `idstitch generate` wrote into a DuckDB file, truth column included, and
    the demo's two rule tables, empty."""
    con = duckdb.connect(str(path))
    try:
        tables: RawTables = {}
        for table, columns in TABLES.items():
            names = [*columns, TRUTH_COLUMN]
            quoted = ", ".join(f'"{c}"' for c in names)
            cursor = con.execute(f"select {quoted} from {RAW_SCHEMA}.{table} order by {quoted}")
            tables[table] = (names, [dict(zip(names, r, strict=True)) for r in cursor.fetchall()])
    finally:
        con.close()
    for source in RULE_TABLES:
        table, columns = STREAM_TABLES[source]
        tables[table] = (columns, [])
    return tables


def as_json(value: Any) -> Any:
    """A value as the command's --json writes it (times as text)."""
    return json.loads(json.dumps(value, default=str))


def duckdb_audit(path: Path, vars: dict[str, Any] | None = None) -> AuditResult:
    project = DbtProject(duckdb_path=path, vars={"idstitch": vars} if vars else {})
    return run_audit(path, project=project, truth=TRUTH_COLUMN, replay=REPLAY)


def assert_same_audit(got: dict[str, Any], want: dict[str, Any], *, same_rounds: bool) -> None:
    """The audit of a target equals DuckDB's, but for what cannot be the same: the name of the
    build, and the run log's run ids and times (each build logs its own run). The rounds of the
    components loop must be the same too where the loop orders its rounds alike
    (`same_rounds`); BigQuery orders them by its own hash (docs/warehouses.md)."""
    got, want = dict(got), dict(want)
    assert got.pop("database") != want.pop("database")
    got_log, want_log = got.pop("run_log"), want.pop("run_log")
    assert got == want
    replay = next(c for c in got["checks"] if c["name"] == "replay of sampled profiles")
    assert replay["ok"] and not replay["skipped"]

    def rounds(log: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [
            (r["step"], r["iteration"], r["rows_changed"], r["edges_remaining"], r["nodes_active"])
            for r in log
        ]

    assert got_log and {r["step"] for r in got_log} == {"connected_components"}
    if same_rounds:
        assert rounds(got_log) == rounds(want_log)


GENERATED_AT = re.compile(r"generated \d{4}-\d\d-\d\d \d\d:\d\d UTC")


def assert_same_report(html: str, duck: AuditResult, got: dict[str, Any]) -> None:
    """The HTML report of a target is DuckDB's report, given the target's build name and run
    log (assert_same_audit), except for the minute it was generated in."""
    named = dataclasses.replace(duck, database=got["database"], run_log=got["run_log"])
    expected = render_html(named)
    assert GENERATED_AT.sub("generated", html) == GENERATED_AT.sub("generated", expected)


def one_persons_pair(path: Path) -> tuple[str, str]:
    """Two identifiers of one generated person, as far apart in their profile as it gets: the
    primary identifier of the largest profile whose events are all that person's, and the node
    whose chain of evidence from it is the longest (on DuckDB)."""
    truth = " union all ".join(
        f"select '{table.removeprefix('raw_')}' as source, \"{columns[0]}\" as event_id,"
        f" {TRUTH_COLUMN} as person from {RAW_SCHEMA}.{table}"
        for table, columns in TABLES.items()
    )
    con = duckdb.connect(str(path))
    try:
        row = con.execute(
            f"""with truth as ({truth}),
                pure as (
                    select i.rudder_id from idstitch.rudder_identified_events as i
                    inner join truth as t on i.source = t.source and i.event_id = t.event_id
                    group by i.rudder_id having count(distinct t.person) = 1
                )
                select p.rudder_id, p.primary_id_type, p.primary_id_value
                from idstitch.rudder_profiles as p
                where p.rudder_id in (select rudder_id from pure)
                order by p.identifier_count desc, p.rudder_id limit 1"""
        ).fetchone()
        assert row is not None, "no profile of one person"
        rudder_id, primary = row[0], f"{row[1]}:{row[2]}"
        others = con.execute(
            "select id_type || ':' || id_value from idstitch.rudder_identity_mappings"
            " where rudder_id = ? order by 1",
            [rudder_id],
        ).fetchall()
    finally:
        con.close()
    config = parse_config(project_var())
    hops = {
        other: len(explain(path, primary, other, config).path)
        for (other,) in others
        if other != primary
    }
    farthest = max(sorted(hops), key=lambda node: hops[node])
    assert hops[farthest] >= 2, f"{primary}: every other node is one hop away"
    return primary, farthest


def duckdb_explanation(path: Path, first: str, second: str) -> dict[str, Any]:
    e = explain(path, first, second, parse_config(project_var()))
    assert e.same_profile and len(e.path) >= 2
    return dict(as_json(e.as_dict()))


def assert_rule_build_audits(idstitch: Callable[..., str], variant: str, scratch: Path) -> None:
    """A rule configuration's build, audited through the adapter with its own var
    (`idstitch(*args)` runs one command on the emulator): every invariant holds, and the
    sampled profiles replay to the reference."""
    from rules import config

    report = scratch / "audit.json"
    rules_var = json.dumps({"idstitch": config(variant)})
    idstitch("audit", "--vars", rules_var, "--replay", str(REPLAY), "--json", str(report))
    got = json.loads(report.read_text())
    assert got["ok"], [c for c in got["checks"] if not c["ok"]]
    by_name = {c["name"]: c for c in got["checks"]}
    assert not by_name["replay of sampled profiles"]["skipped"]
    assert not by_name["type limits respected"]["skipped"]
    assert got["profiles"] > 0


def assert_demo_printed(output: str, demo_path: Path) -> None:
    """`idstitch demo --target` printed the summary (the DuckDB demo's number of identified
    events) and an audit whose checks all pass."""
    from idstitch.summary import read_summary

    expected = read_summary(demo_path)
    identified = re.search(r"events identified\W+(\d+)", output)
    assert identified and int(identified.group(1)) == expected.identified_events, output
    assert "idstitch audit" in output and "FAIL" not in output, output
    assert re.search(r"one rudder_id per node\W+pass", output), output
