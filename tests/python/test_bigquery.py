"""BigQuery, through crucible-emulator: the demo, the rule scenarios and random streams give
the reference's tables, and the same rudder_ids as DuckDB (docs/semantics.md §4: same input, same
rudder_id on every warehouse)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from erasures import (
    ERASURE_COLUMNS,
    assert_erased_run,
    combined,
    named_erasure_scenarios,
    random_erasures,
)
from idstitch.config import Config, parse_config
from idstitch.incremental_bench import MARTS, Snapshot, diff_snapshots
from idstitch.reference import Result, stitch
from idstitch.summary import read_summary
from round_trips import (
    NEW_EVENT_COLUMNS,
    NEW_EVENT_VALUES,
    Count,
    assert_counted,
    assert_within_target,
    count_run,
)
from rules import RuleScenario, assert_scenario, by_load_time, config, rule_stream

from bigquery_harness import (
    DATASET,
    RAW_DATASET,
    TARGET,
    Emulator,
    backquote,
    emulator_python,
    running_emulator,
    write_raw,
    write_tables,
)
from conftest import SEED, Build, merge_only_var, project_var
from emulator_audit import (
    REPLAY,
    as_json,
    assert_demo_printed,
    assert_rule_build_audits,
    assert_same_audit,
    assert_same_report,
    duckdb_audit,
    duckdb_explanation,
    generated_tables,
    one_persons_pair,
)
from emulator_commands import (
    LOAD_TIMES,
    LOADED_SOURCES,
    assert_forget_request,
    assert_raw_row_counts,
    copy_project,
    generate_and_run,
    run_dbt,
)
from streams import (
    Stream,
    growing_batches,
    loaded_tables,
    random_case,
    random_stream,
    two_batches,
)
from warehouse import connect, diff_results, query, read_result

pytestmark = pytest.mark.warehouse

STREAM_CASES = 50  # the first cases of the DuckDB streams build: the cross-warehouse proof
RULE_CASES = 12
INCREMENTAL_CASES = 8
INCREMENTAL_RUNS = 3
STAGING_CACHES = ["stg_idstitch__identifiers", "stg_idstitch__traits"]

MAPPINGS_SQL = """
    select id_type, id_value, rudder_id, is_shared, first_seen_at, last_seen_at,
           source_count, event_count
    from rudder_identity_mappings"""


@dataclass
class BigQueryBuild:
    emulator: Emulator
    project: str
    config: Config
    stream: Stream
    output: str = ""  # what the command that built it printed, if it matters

    def result(self) -> Result:
        return read_result(self.emulator.cursor(self.project), self.config, quote=backquote)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return query(self.emulator.cursor(self.project), sql)


@pytest.fixture(scope="module")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], Emulator]]:
    """`emulators()` starts a BigQuery emulator for one build; all stop when the module ends.

    Every build gets an emulator of its own: the emulator looks a table up by scanning the
    columns of every project it holds (DuckDB's duckdb_columns() over all attached catalogs), so
    in one shared emulator each build made the later ones slower (the demo's seed and run took
    ~35% more emulator CPU as its fifth project than as its first)."""
    python = emulator_python()
    if python is None:
        message = "the BigQuery emulator is not installed (make test installs it in .venv-bq)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with contextlib.ExitStack() as running:
        yield lambda: running.enter_context(
            running_emulator(python, tmp_path_factory.mktemp("bigquery"))
        )


@pytest.fixture
def emulator(emulators: Callable[[], Emulator]) -> Emulator:
    """An emulator of the test's own."""
    return emulators()


@pytest.fixture(scope="module")
def bq_demo(emulators: Callable[[], Emulator]) -> BigQueryBuild:
    """The demo exactly as on DuckDB, through `idstitch demo --target`: seeds, then every
    model, data test and unit test, then the summary and the audit read through the adapter."""
    emulator = emulators()
    output = emulator.idstitch("idstitch-demo", "demo")
    return BigQueryBuild(emulator, "idstitch-demo", parse_config(project_var()), Stream(), output)


@pytest.fixture(scope="module")
def bq_streams(emulators: Callable[[], Emulator]) -> BigQueryBuild:
    emulator = emulators()
    raw = merge_only_var()
    stream = random_stream(STREAM_CASES, SEED)
    write_raw(emulator, "idstitch-streams", stream)
    emulator.dbt("idstitch-streams", ["run"], vars={"idstitch": raw})
    return BigQueryBuild(emulator, "idstitch-streams", parse_config(raw), stream)


@pytest.fixture(scope="module")
def bq_rules(emulators: Callable[[], Emulator]) -> tuple[BigQueryBuild, list[RuleScenario]]:
    # placeholder_hub (10,000 rows) is left to DuckDB and Snowflake: it was left out when the
    # raw rows went in by INSERT, which the emulator translates literal by literal (minutes for
    # those rows); write_tables now loads them by a load job, so it may fit here now (untried)
    return _rule_build(emulators(), "A", "idstitch-rules", leave_out=("placeholder_hub",))


@pytest.fixture(scope="module")
def bq_generated(emulators: Callable[[], Emulator], synthetic_dbt_build: Path) -> BigQueryBuild:
    """The generated data set of the DuckDB synthetic build (truth column included), built
    with the demo configuration."""
    emulator = emulators()
    write_tables(emulator, "idstitch-generated", generated_tables(synthetic_dbt_build))
    emulator.dbt("idstitch-generated", ["run"])
    return BigQueryBuild(emulator, "idstitch-generated", parse_config(project_var()), Stream())


@pytest.fixture(scope="module")
def bq_rules_b(emulators: Callable[[], Emulator]) -> tuple[BigQueryBuild, list[RuleScenario]]:
    return _rule_build(emulators(), "B", "idstitch-rules-b")


def _rule_build(
    emulator: Emulator, variant: str, project: str, leave_out: tuple[str, ...] = ()
) -> tuple[BigQueryBuild, list[RuleScenario]]:
    """A rule configuration's random cases and named scenarios, built in `project`."""
    raw = config(variant)
    stream, named = rule_stream(variant, RULE_CASES, leave_out=leave_out)
    write_raw(emulator, project, stream)
    emulator.dbt(project, ["run"], vars={"idstitch": raw})
    return BigQueryBuild(emulator, project, parse_config(raw), stream), named


def _mappings(rows: list[tuple[Any, ...]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def _snapshot(build: BigQueryBuild) -> Snapshot:
    """Every mart's rows, as a multiset."""
    return {t: Counter(build.query(f"select * from {t}")) for t in MARTS}


def test_demo_equals_duckdb(bq_demo: BigQueryBuild, demo_build: Build) -> None:
    con = connect(demo_build.path)
    try:
        duck = _mappings(query(con, MAPPINGS_SQL))
        duck_result = read_result(con, demo_build.config)
    finally:
        con.close()
    assert _mappings(bq_demo.query(MAPPINGS_SQL)) == duck
    problems = diff_results(duck_result, bq_demo.result())
    assert not problems, "BigQuery differs from DuckDB:\n" + "\n".join(problems)


def test_init_reads_the_demo(bq_demo: BigQueryBuild) -> None:
    """`idstitch init` reads this warehouse's catalog through the dbt adapter, as DuckDB's:
    on the demo's raw tables it guesses the demo's own sources."""
    var = yaml.safe_load(bq_demo.emulator.idstitch(bq_demo.project, "init"))["idstitch"]
    demo = project_var()
    assert {s["name"]: s for s in var["sources"]} == {s["name"]: s for s in demo["sources"]}
    assert var["manual_merges"] == {"source": "demo.raw_manual_merges"}
    assert var["never_merge"] == {"source": "demo.raw_never_merge"}


def test_summary_reads_through_the_adapter(bq_demo: BigQueryBuild, demo_build: Build) -> None:
    """`idstitch summary --target` reads this warehouse's tables through the dbt adapter, in
    one dbt call, and gives the numbers of the same demo on DuckDB."""
    summary = json.loads(bq_demo.emulator.idstitch(bq_demo.project, "summary", "--json"))
    expected = dataclasses.asdict(read_summary(demo_build.path))
    # the components loop orders each round by BigQuery's own hash (farm_fingerprint), so its
    # round count may differ from DuckDB's; its result does not (test_demo_equals_duckdb)
    assert summary.pop("iterations") >= 1
    expected.pop("iterations")
    # the loops' requests are counted per warehouse (test_round_trips)
    assert summary.pop("loop_requests") > 0 and expected.pop("loop_requests") > 0
    assert summary == expected
    assert summary["profiles"] > 0 and summary["rejected_events"]


def test_streams_equal_reference(bq_streams: BigQueryBuild) -> None:
    expected = stitch(bq_streams.config, bq_streams.stream.rows, [])
    problems = diff_results(expected, bq_streams.result())
    assert not problems, "BigQuery differs from the reference:\n" + "\n".join(problems)
    assert len(expected.mappings) > 5 * STREAM_CASES


def test_streams_have_duckdb_rudder_ids(bq_streams: BigQueryBuild, streams_build: Build) -> None:
    """The same cases in the DuckDB streams build: identical mappings, ids included."""
    bq = _mappings(bq_streams.query(MAPPINGS_SQL))
    con = connect(streams_build.path)
    try:
        duck = _mappings(query(con, MAPPINGS_SQL))
    finally:
        con.close()
    assert bq, "no mappings on BigQuery"
    assert {k: duck.get(k) for k in bq} == bq
    prefixes = {f"c{case:03d}_" for case in range(STREAM_CASES)}
    assert {k for k in duck if any(p in k[1] for p in prefixes)} <= set(bq)


def test_rules_equal_reference(bq_rules: tuple[BigQueryBuild, list[RuleScenario]]) -> None:
    build, _ = bq_rules
    expected = stitch(build.config, build.stream.rows, build.stream.rows.get("never_merge", []))
    problems = diff_results(expected, build.result())
    assert not problems, "BigQuery differs from the reference:\n" + "\n".join(problems)
    violations = {r for (*_, r, _) in expected.limit_violations}
    assert violations >= {"limit_exceeded", "never_merge"}


def test_rule_scenarios(bq_rules: tuple[BigQueryBuild, list[RuleScenario]]) -> None:
    build, scenarios = bq_rules
    rudder = {(t, v): r for t, v, r, *_ in build.query(MAPPINGS_SQL)}
    skipped = set(build.query("select id_value, reason from idstitch_skipped_aliases"))
    rejected = set(build.query("select event_id, reason from idstitch_rejected_events"))
    for s in scenarios:
        assert_scenario(s, rudder, skipped, rejected)


def test_forget_writes_through_the_adapter(emulator: Emulator, tmp_path: Path) -> None:
    """`idstitch forget --target`: the request in the erasures table of the emulator's project
    (the md5 of the normalized value, never the value) and in the seed file of the project it
    ran from, a copy of this one."""
    project = "idstitch-forget"
    emulator.dbt(project, ["seed", "--select", "idstitch_erasures"])
    copy = copy_project(tmp_path / "project")
    output = emulator.idstitch(
        project, "forget", "phone:(415) 555-0100", "--id", "bq-forget-1", project_dir=copy
    )
    rows = query(
        emulator.cursor(project),
        "select erasure_id, id_type, id_value, id_hash, scope"
        f" from `{project}`.{RAW_DATASET}.idstitch_erasures",
    )
    assert_forget_request(output, rows, copy, "bq-forget-1", "phone:+14155550100", "identifier")


def test_a_script_is_one_job(emulator: Emulator, tmp_path: Path) -> None:
    """The loops hand groups of statements to idstitch_run_script: BigQuery gets each group as
    one multi-statement job, and the last statement's result comes back."""
    project = "idstitch-script"
    cursor = emulator.cursor(project)
    cursor.execute(f"create schema if not exists {DATASET}")
    statements = [
        f"create or replace table {DATASET}.script_probe as select 1 as n",
        f"insert into {DATASET}.script_probe values (2) -- a trailing comment",
        f"insert into {DATASET}.script_probe values (3)",
        f"select sum(n) as total from {DATASET}.script_probe",
    ]
    env = {**emulator.env(project), "DBT_LOG_FORMAT_FILE": "json"}
    env["DBT_LOG_PATH"] = str(tmp_path / "logs")
    args = yaml.safe_dump({"statements": statements, "fetch": True}, width=10_000)
    run_dbt(["run-operation", "idstitch_run_script", "--args", args],
            emulator.profiles_dir, TARGET, env)  # fmt: skip
    sent = [
        event["data"]["sql"]
        for event in map(json.loads, (tmp_path / "logs" / "dbt.log").read_text().splitlines())
        if event["info"]["name"] == "SQLQuery"
    ]
    assert len(sent) == 1, sent
    assert all(s.split(" as ")[0] in sent[0] for s in statements)
    assert query(cursor, f"select sum(n) from {DATASET}.script_probe") == [(6,)]


def test_a_transaction_in_a_script_applies_whole_or_not_at_all(emulator: Emulator) -> None:
    """idstitch_batches publishes a run as one script, `begin transaction; ...; commit
    transaction;`: its changes apply together, and a script that fails inside the transaction
    changes nothing (the emulator's shim maps the statements to its engine's transactions)."""
    project = "idstitch-transaction"
    cursor = emulator.cursor(project)
    cursor.execute(f"create schema if not exists {DATASET}")
    cursor.execute(f"create or replace table {DATASET}.first_probe as select 1 as n")
    cursor.execute(f"create or replace table {DATASET}.second_probe as select 1 as n")

    def script(failing: bool) -> str:
        return ";\n".join([
            "begin transaction",
            f"insert into {DATASET}.first_probe values (2)",
            f"select n from {DATASET}.no_such_table" if failing else "select 1",
            f"insert into {DATASET}.second_probe values (2)",
            "commit transaction",
        ])  # fmt: skip

    def totals() -> list[tuple[Any, ...]]:
        return query(
            cursor,
            f"select (select sum(n) from {DATASET}.first_probe),"
            f" (select sum(n) from {DATASET}.second_probe)",
        )

    with pytest.raises(Exception, match="no_such_table"):
        cursor.execute(script(failing=True))
    assert totals() == [(1, 1)]
    cursor.execute(script(failing=False))
    assert totals() == [(3, 3)]


def test_audit_reads_through_the_adapter(
    bq_generated: BigQueryBuild, synthetic_dbt_build: Path, tmp_path: Path
) -> None:
    """`idstitch audit --target` on generated data: every check passes, and the JSON and HTML
    report are those of the same data on DuckDB (assert_same_audit says what may differ; here
    the components loop's rounds may differ too, since it orders them by BigQuery's hash)."""
    report, html = tmp_path / "audit.json", tmp_path / "audit.html"
    bq_generated.emulator.idstitch(
        bq_generated.project, "audit", "--truth", "true_person_id", "--replay", str(REPLAY),
        "--json", str(report), "--html", str(html),
    )  # fmt: skip
    got = json.loads(report.read_text())
    duck = duckdb_audit(synthetic_dbt_build)
    assert got["ok"] and got["truth"]["events_scored"] > 1000
    assert_same_audit(got, as_json(duck.as_dict()), same_rounds=False)
    assert_same_report(html.read_text(), duck, got)


def test_explain_reads_through_the_adapter(
    bq_generated: BigQueryBuild, synthetic_dbt_build: Path
) -> None:
    """`idstitch explain --target` of two identifiers of one person gives DuckDB's chain."""
    first, second = one_persons_pair(synthetic_dbt_build)
    build = bq_generated
    printed = build.emulator.idstitch(build.project, "explain", first, second, "--json")
    assert json.loads(printed) == duckdb_explanation(synthetic_dbt_build, first, second)


@pytest.mark.parametrize("variant", ["A", "B"])
def test_audit_of_the_rule_builds(
    variant: str,
    bq_rules: tuple[BigQueryBuild, list[RuleScenario]],
    bq_rules_b: tuple[BigQueryBuild, list[RuleScenario]],
    tmp_path: Path,
) -> None:
    """Both rule configurations, audited through the adapter with their own var: every
    invariant holds and the sampled profiles replay to the reference."""
    build, _ = bq_rules if variant == "A" else bq_rules_b
    assert_rule_build_audits(
        lambda *args: build.emulator.idstitch(build.project, *args), variant, tmp_path
    )


def test_demo_command_summarizes_and_audits(bq_demo: BigQueryBuild, demo_build: Build) -> None:
    """`idstitch demo --target` printed the demo's summary and a passing audit."""
    assert_demo_printed(bq_demo.output, demo_build.path)


def test_generate_run_and_summary_through_the_adapter(emulator: Emulator, tmp_path: Path) -> None:
    """`idstitch generate --target`, then `idstitch run` and `summary` on the emulator."""
    generate_and_run(lambda *args: emulator.idstitch("idstitch-gensmall", *args), tmp_path)


def test_round_trips(bq_demo_run: tuple[BigQueryBuild, list[Count]]) -> None:
    """The jobs of the demo's full run and of an incremental run of one new event: the loops log
    exactly the jobs dbt sent for them, no other model sends more than its statements, and each
    build is within the target of issue #19 (tests/python/round_trips.py)."""
    _, counts = bq_demo_run
    assert [c.label for c in counts] == ["full run", "one new event"]
    print("\n".join(c.describe() for c in counts))
    for count in counts:
        assert_counted(count, full=count.label == "full run")
    assert_within_target(counts)


def test_incremental_runs_equal_reference(emulator: Emulator) -> None:
    """Random rule streams whose rows arrive over three runs: the first builds everything, the
    next two are incremental (new copies found by their key, whole partitions re-resolved, each
    kept table's rows replaced by one MERGE), and after the last the marts are the reference's
    over all rows. Before the last, a run dies in the loop and leaves the marts alone."""
    project = "idstitch-incremental"
    raw = by_load_time(config("A"))
    stream = random_stream(INCREMENTAL_CASES, SEED + 2, rules=True)
    build = BigQueryBuild(emulator, project, parse_config(raw), stream)
    batches = growing_batches(stream, SEED, INCREMENTAL_RUNS)
    for run in range(len(batches)):
        tables = loaded_tables(batches, run, LOAD_TIMES)
        write_tables(emulator, project, tables)
        if run == INCREMENTAL_RUNS - 1:
            # the last batch's first run dies in a loop, after staging cached its copies:
            # the marts stay as they were, and the next run drops those cached rows and
            # takes the copies up again
            before = _snapshot(build)
            capped = json.dumps({"idstitch": {**raw, "max_iterations": 1}})
            stderr = emulator.failing_idstitch(project, "run", "--vars", capped)
            assert "did not converge within max_iterations = 1 " in stderr, stderr
            assert not diff_snapshots(before, _snapshot(build))
            # what the dead run cached; the next run must drop it before it caches the same
            # copies again, under the same batch
            unfinished = [
                f"select * from {t} where batch_id not in"
                " (select finished.batch_id from idstitch_batches as finished)"
                for t in STAGING_CACHES
            ]
            dead_rows = [Counter(build.query(sql)) for sql in unfinished]
            assert dead_rows[0], "the dead run cached no identifier"
        emulator.dbt(project, ["run"], vars={"idstitch": raw})
    # one row per batch: the last run also finished the batch the dead run had cached
    runs = build.query(
        "select distinct run_number, full_refresh, events_resolved from idstitch_batches"
        " order by run_number"
    )
    runs = [(full, resolved) for _, full, resolved in runs]
    assert [full for full, _ in runs] == [True] + [False] * (INCREMENTAL_RUNS - 1)
    batches = build.query("select count(*) from idstitch_batches")[0][0]
    assert batches == INCREMENTAL_RUNS + 1
    # every incremental run re-resolved events, so the MERGEs replaced rows
    assert all(resolved > 0 for _, resolved in runs[1:]), runs
    expected = stitch(build.config, stream.rows, stream.rows.get("never_merge", []))
    problems = diff_results(expected, build.result())
    assert not problems, "BigQuery (incremental) differs from the reference:\n" + "\n".join(
        problems
    )
    # two sources were read by load time: their counts before the watermark were kept
    assert_raw_row_counts(build.query, tables, LOADED_SOURCES)
    # the dead run's cached rows were dropped, not kept beside the same rows cached again
    # (resolution ignores a repeated row, so the marts alone would not show it)
    dead_batches = {row[-1] for rows in dead_rows for row in rows}
    assert len(dead_batches) == 1
    again = [
        f"select * from {t} where batch_id = '{next(iter(dead_batches))}'" for t in STAGING_CACHES
    ]
    assert [Counter(build.query(sql)) for sql in again] == dead_rows


def test_erasure_of_both_scopes(emulator: Emulator) -> None:
    """docs/semantics.md §3c on BigQuery: requests of both scopes from the first run; rows of
    new people (an incremental run); rows in the partition of an erased profile (a full run).
    After each run the marts equal the reference and no table of the dataset holds an erased
    value or hash, nor any value of an erased profile."""
    project = "idstitch-erasure"
    raw = project_var()
    cfg = parse_config(raw)
    scenarios = named_erasure_scenarios()
    stream = random_stream(INCREMENTAL_CASES, SEED + 4, rules=True)
    first = two_batches(stream, SEED)
    fresh = combined(random_case(case, SEED + 4) for case in range(100, 103))
    requests = random_erasures(stream, SEED, 0.15, cfg) + [r for s in scenarios for r in s.erasures]
    runs = [
        combined([first, *(s.at_stage(0) for s in scenarios)]),
        combined([first, fresh, *(s.at_stage(1) for s in scenarios)]),
        combined([stream, fresh, *(s.at_stage(2) for s in scenarios)]),
    ]
    build = BigQueryBuild(emulator, project, cfg, runs[-1])

    client = emulator.client(project)

    def tables() -> list[Any]:
        return [client.get_table(t.reference) for t in client.list_tables(f"{project}.{DATASET}")]

    def run_query(sql: str) -> list[tuple[Any, ...]]:
        # the emulator has no INFORMATION_SCHEMA: the scan's list of columns comes from the API
        if "information_schema.columns" in sql:
            return [
                (t.table_id, f.name, f.field_type)
                for t in tables()
                for f in t.schema
                if t.table_type == "TABLE"
            ]
        return build.query(sql)

    for batch in runs:
        write_raw(emulator, project, batch)
        write_tables(emulator, project, {"idstitch_erasures": (list(ERASURE_COLUMNS), requests)})
        emulator.dbt(project, ["run"], vars={"idstitch": raw})
        kinds = {t.table_id: t.table_type for t in tables()}
        assert "VIEW" in kinds.values() and "stg_idstitch__identifiers" in kinds
        assert_erased_run(cfg, batch, requests, build.result(), run_query, DATASET, quote="`")
    batches = build.query("select full_refresh from idstitch_batches order by run_number")
    assert [f for (f,) in batches] == [True, False, True]


# -- failures: what `idstitch run` says, and what it leaves, when the target is not as it expects


@pytest.fixture(scope="module")
def bq_demo_run(
    emulators: Callable[[], Emulator], tmp_path_factory: pytest.TempPathFactory
) -> tuple[BigQueryBuild, list[Count]]:
    """The demo's raw tables and models (no tests), built by `dbt seed` and a full `dbt run` in
    a project of its own, then one new app event and an incremental `dbt run`; each run counted
    (test_round_trips) from its JSON log and the run log right after it, before anything else
    runs there. The failure tests then break and repair the same project (bq_failures): one
    build of the demo serves both."""
    emulator = emulators()
    project = "idstitch-trips"
    emulator.dbt(project, ["seed"])
    build = BigQueryBuild(emulator, project, parse_config(project_var()), Stream())
    logs = tmp_path_factory.mktemp("bigquery_trips")
    counts = []
    for label in ("full run", "one new event"):
        if label == "one new event":
            values = NEW_EVENT_VALUES.format(sent_at="timestamp '2024-04-01 10:00:00'")
            table = f"`{project}`.{RAW_DATASET}.raw_app_events"
            insert = f"insert into {table} {NEW_EVENT_COLUMNS} values {values}"
            emulator.cursor(project).execute(insert)
        env = {**emulator.env(project), "DBT_LOG_FORMAT_FILE": "json"}
        env["DBT_LOG_PATH"] = str(logs / label)
        run_dbt(["run"], emulator.profiles_dir, TARGET, env)
        counts.append(count_run(label, logs / label, Path(env["DBT_TARGET_PATH"]), build.query))
    return build, counts


@pytest.fixture(scope="module")
def bq_failures(bq_demo_run: tuple[BigQueryBuild, list[Count]]) -> BigQueryBuild:
    """The demo's raw tables and models (no tests) of bq_demo_run, which the failure tests break
    and repair (its round-trip count was taken before)."""
    return bq_demo_run[0]


def _last_run(build: BigQueryBuild) -> tuple[Any, ...]:
    return build.query(
        "select full_refresh, copy_count, events_resolved from idstitch_batches"
        " order by run_number desc limit 1"
    )[0]


def _error_lines(stderr: str) -> list[str]:
    """The lines `idstitch` ends a failure with: `error: ...` and `next: ...`."""
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith(("error:", "next:"))]


def test_demo_rerun_with_nothing_new_changes_nothing(bq_failures: BigQueryBuild) -> None:
    """`idstitch run` again on the same raw rows: incremental, no new copy, nothing
    re-resolved, every mart row for row as before."""
    before = _snapshot(bq_failures)
    bq_failures.emulator.idstitch(bq_failures.project, "run")
    assert not diff_snapshots(before, _snapshot(bq_failures))
    assert _last_run(bq_failures) == (False, 0, 0)


def test_a_missing_raw_table_is_named(bq_failures: BigQueryBuild, tmp_path: Path) -> None:
    """A raw table the var reads is gone: the run stops before it writes anything, with one
    message that names the table and the source that reads it."""
    raw = f"`{bq_failures.project}`.{RAW_DATASET}"
    cursor = bq_failures.emulator.cursor(bq_failures.project)
    cursor.execute(
        f"create or replace table {raw}.kept_web_tracks as select * from {raw}.raw_web_tracks"
    )
    cursor.execute(f"drop table {raw}.raw_web_tracks")
    before = _snapshot(bq_failures)
    try:
        stderr = bq_failures.emulator.failing_idstitch(bq_failures.project, "run")
    finally:
        cursor.execute(
            f"create or replace table {raw}.raw_web_tracks as select * from {raw}.kept_web_tracks"
        )
        cursor.execute(f"drop table {raw}.kept_web_tracks")
    error, hint = _error_lines(stderr)
    assert error == (
        f"error: idstitch: the raw table `{bq_failures.project}`.`{RAW_DATASET}`.`raw_web_tracks`"
        " does not exist; source `web_tracks` of the idstitch var reads it as the dbt source"
        " `demo.raw_web_tracks`. Load the table, or point source `web_tracks` of the idstitch"
        " var (or that dbt source) at the table that holds its rows."
    )
    assert hint.startswith("next: Nothing was written")
    assert not diff_snapshots(before, _snapshot(bq_failures))


def test_a_dropped_kept_table_fails_before_writing(bq_failures: BigQueryBuild) -> None:
    """A table kept from run to run is dropped between runs (the others stay): the next run
    cannot add to it, says so and how to rebuild, and leaves every other table alone; the
    rebuild it names then restores the marts."""
    before = _snapshot(bq_failures)
    dropped = "int_idstitch__observation_index"
    bq_failures.emulator.cursor(bq_failures.project).execute(f"drop table {DATASET}.{dropped}")
    stderr = bq_failures.emulator.failing_idstitch(bq_failures.project, "run")
    error, hint = _error_lines(stderr)
    assert error.startswith(
        f"error: idstitch: `{bq_failures.project}`.`{DATASET}`.`{dropped}` is missing, though "
    ), error
    assert error.endswith("`idstitch run --full-refresh` (or `dbt build --full-refresh`).")
    assert hint.startswith("next: Nothing was written")
    assert not diff_snapshots(before, _snapshot(bq_failures))
    bq_failures.emulator.idstitch(bq_failures.project, "run", "--full-refresh")
    assert not diff_snapshots(before, _snapshot(bq_failures))


def test_a_dropped_target_schema_is_rebuilt(bq_failures: BigQueryBuild) -> None:
    """The whole target dataset is dropped between runs: nothing of the last run is left to
    add to, so the next run is a first run, rebuilds every table from the raw rows (which live
    in their own dataset) and gives the same marts."""
    before = _snapshot(bq_failures)
    client = bq_failures.emulator.client(bq_failures.project)
    client.delete_dataset(f"{bq_failures.project}.{DATASET}", delete_contents=True, timeout=60)
    bq_failures.emulator.idstitch(bq_failures.project, "run")
    assert not diff_snapshots(before, _snapshot(bq_failures))
    assert _last_run(bq_failures)[0] is True
