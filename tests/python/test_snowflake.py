"""Snowflake, through fakesnow in server mode: the demo, the rule scenarios and random streams
give the reference's tables, and DuckDB's rudder_ids (docs/semantics.md §4: same input, same
rudder_id on every warehouse)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
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
    random_deletes,
    random_erasures,
    without,
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
    statements_sent,
)
from snowflake_harness import (
    RAW_SCHEMA,
    TARGET,
    Emulator,
    running_emulator,
    upper_quote,
    write_raw,
    write_tables,
)
from streams import Stream, loaded_tables, random_case, random_stream, two_batches
from warehouse import connect, diff_results, query, read_result

pytestmark = pytest.mark.warehouse

STREAM_CASES = 50  # the first cases of the DuckDB streams build: the cross-warehouse proof
RULE_CASES = 12


@dataclass
class SnowflakeBuild:
    emulator: Emulator
    database: str
    config: Config
    stream: Stream
    output: str = ""  # what the command that built it printed, if it matters

    def result(self) -> Result:
        con = self.emulator.connect(self.database)
        try:
            return read_result(con.cursor(), self.config, quote=upper_quote)
        finally:
            con.close()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        con = self.emulator.connect(self.database)
        try:
            return query(con.cursor(), sql)
        finally:
            con.close()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with running_emulator(tmp_path_factory.mktemp("snowflake")) as running:
        yield running


@pytest.fixture(scope="module")
def sf_demo(emulator: Emulator) -> SnowflakeBuild:
    """The demo exactly as on DuckDB, through `idstitch demo --target`: seeds, then every
    model, data test and unit test, then the summary and the audit read through the adapter."""
    output = emulator.idstitch("DEMO", "demo")
    return SnowflakeBuild(emulator, "DEMO", parse_config(project_var()), Stream(), output)


@pytest.fixture(scope="module")
def sf_streams(emulator: Emulator) -> SnowflakeBuild:
    raw = merge_only_var()
    stream = random_stream(STREAM_CASES, SEED)
    write_raw(emulator, "STREAMS", stream)
    emulator.dbt("STREAMS", ["run"], vars={"idstitch": raw})
    return SnowflakeBuild(emulator, "STREAMS", parse_config(raw), stream)


@pytest.fixture(scope="module")
def sf_rules(emulator: Emulator) -> tuple[SnowflakeBuild, list[RuleScenario]]:
    return _rule_build(emulator, "A", "RULES")


@pytest.fixture(scope="module")
def sf_generated(emulator: Emulator, synthetic_dbt_build: Path) -> SnowflakeBuild:
    """The generated data set of the DuckDB synthetic build (truth column included), built
    with the demo configuration."""
    write_tables(emulator, "GENERATED", generated_tables(synthetic_dbt_build))
    emulator.dbt("GENERATED", ["run"])
    return SnowflakeBuild(emulator, "GENERATED", parse_config(project_var()), Stream())


@pytest.fixture(scope="module")
def sf_rules_b(emulator: Emulator) -> tuple[SnowflakeBuild, list[RuleScenario]]:
    return _rule_build(emulator, "B", "RULES_B")


def _rule_build(
    emulator: Emulator, variant: str, database: str
) -> tuple[SnowflakeBuild, list[RuleScenario]]:
    """A rule configuration's random cases and named scenarios, built in `database`."""
    raw = config(variant)
    stream, named = rule_stream(variant, RULE_CASES)
    write_raw(emulator, database, stream)
    emulator.dbt(database, ["run"], vars={"idstitch": raw})
    return SnowflakeBuild(emulator, database, parse_config(raw), stream), named


def _mappings(rows: list[tuple[Any, ...]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


MAPPINGS_SQL = """
    select id_type, id_value, rudder_id, is_shared, first_seen_at, last_seen_at,
           source_count, event_count
    from rudder_identity_mappings"""


def test_demo_equals_duckdb(sf_demo: SnowflakeBuild, demo_build: Build) -> None:
    con = connect(demo_build.path)
    try:
        duck = _mappings(query(con, MAPPINGS_SQL))
        duck_result = read_result(con, demo_build.config)
    finally:
        con.close()
    snow = _mappings(sf_demo.query(MAPPINGS_SQL))
    assert snow == duck
    # Loaders differ, not the SQL: dbt-duckdb loads a seed's CSV natively and keeps the text
    # `null`, dbt's generic seed loader (Snowflake's) reads it as NULL, so the demo's two
    # `null` placeholders are blocked values on DuckDB and absent here. (BigQuery loads the
    # CSV file as it is, like DuckDB.)
    duck_result.rejected_identifiers = {
        r for r in duck_result.rejected_identifiers if r[3].lower() != "null"
    }
    problems = diff_results(duck_result, sf_demo.result())
    assert not problems, "Snowflake differs from DuckDB:\n" + "\n".join(problems)


def test_init_reads_the_demo(sf_demo: SnowflakeBuild) -> None:
    """`idstitch init` reads this warehouse's catalog through the dbt adapter, as DuckDB's:
    on the demo's raw tables it guesses the demo's own sources."""
    var = yaml.safe_load(sf_demo.emulator.idstitch(sf_demo.database, "init"))["idstitch"]
    demo = project_var()
    assert {s["name"]: s for s in var["sources"]} == {s["name"]: s for s in demo["sources"]}
    assert var["manual_merges"] == {"source": "demo.raw_manual_merges"}
    assert var["never_merge"] == {"source": "demo.raw_never_merge"}


def test_summary_reads_through_the_adapter(sf_demo: SnowflakeBuild, demo_build: Build) -> None:
    """`idstitch summary --target` reads this warehouse's tables through the dbt adapter, in
    one dbt call, and gives the numbers of the same demo on DuckDB."""
    summary = json.loads(sf_demo.emulator.idstitch(sf_demo.database, "summary", "--json"))
    expected = dataclasses.asdict(read_summary(demo_build.path))
    # the seed loaders differ (test_demo_equals_duckdb): the two text `null`s are absent here
    con = connect(demo_build.path)
    try:
        [(nulls,)] = query(
            con,
            "select count(*) from idstitch_rejected_identifiers where lower(raw_value) = 'null'",
        )
    finally:
        con.close()
    expected["rejected_identifiers"]["blocked_value"] -= nulls
    # the loops' requests are counted per warehouse (test_round_trips)
    assert summary.pop("loop_requests") > 0 and expected.pop("loop_requests") > 0
    assert nulls == 2 and summary == expected
    assert summary["profiles"] > 0 and summary["rejected_events"]


def test_streams_equal_reference(sf_streams: SnowflakeBuild) -> None:
    expected = stitch(sf_streams.config, sf_streams.stream.rows, [])
    problems = diff_results(expected, sf_streams.result())
    assert not problems, "Snowflake differs from the reference:\n" + "\n".join(problems)
    assert len(expected.mappings) > 5 * STREAM_CASES


def test_streams_have_duckdb_rudder_ids(sf_streams: SnowflakeBuild, streams_build: Build) -> None:
    """The same cases in the DuckDB streams build: identical mappings, ids included."""
    snow = _mappings(sf_streams.query(MAPPINGS_SQL))
    con = connect(streams_build.path)
    try:
        duck = _mappings(query(con, MAPPINGS_SQL))
    finally:
        con.close()
    assert snow, "no mappings on Snowflake"
    assert {k: duck.get(k) for k in snow} == snow
    # and no case of the sample is missing a node on Snowflake
    prefixes = {f"c{case:03d}_" for case in range(STREAM_CASES)}
    mine = {k for k in duck if any(p in k[1] for p in prefixes)}
    assert mine <= set(snow)


def test_rules_equal_reference(sf_rules: tuple[SnowflakeBuild, list[RuleScenario]]) -> None:
    build, _ = sf_rules
    expected = stitch(build.config, build.stream.rows, build.stream.rows.get("never_merge", []))
    problems = diff_results(expected, build.result())
    assert not problems, "Snowflake differs from the reference:\n" + "\n".join(problems)
    violations = {r for (*_, r, _) in expected.limit_violations}
    assert violations >= {"limit_exceeded", "never_merge"}


def test_rule_scenarios(sf_rules: tuple[SnowflakeBuild, list[RuleScenario]]) -> None:
    build, scenarios = sf_rules
    rudder = {(t, v): r for t, v, r, *_ in build.query(MAPPINGS_SQL)}
    skipped = set(build.query("select id_value, reason from idstitch_skipped_aliases"))
    rejected = set(build.query("select event_id, reason from idstitch_rejected_events"))
    for s in scenarios:
        assert_scenario(s, rudder, skipped, rejected)


def test_incremental_run_equals_reference(emulator: Emulator) -> None:
    """Random rule streams in two batches: the second run is incremental (new copies found by
    their key, or by their load time for two sources; whole partitions re-resolved, marts
    rewritten with DELETE ... EXISTS and INSERT) and its marts are the reference's over all
    rows. Then a row loaded before the watermark is deleted upstream, and the next run sees it
    by the count it kept."""
    raw = by_load_time(config("A"))
    stream = random_stream(RULE_CASES, SEED + 1, rules=True)
    batches = [two_batches(stream, SEED), stream]
    for run in range(len(batches)):
        tables = loaded_tables(batches, run, LOAD_TIMES)
        write_tables(emulator, "INCREMENTAL", tables)
        emulator.dbt("INCREMENTAL", ["run"], vars={"idstitch": raw})
    build = SnowflakeBuild(emulator, "INCREMENTAL", parse_config(raw), stream)
    assert_raw_row_counts(build.query, tables, LOADED_SOURCES)
    runs = build.query("select run_number, full_refresh from idstitch_batches order by 1")
    assert [full for _, full in runs] == [True, False]
    expected = stitch(build.config, stream.rows, stream.rows.get("never_merge", []))
    problems = diff_results(expected, build.result())
    assert not problems, "Snowflake (incremental) differs from the reference:\n" + "\n".join(
        problems
    )
    # a full refresh over the existing tables (same columns): published by DML in the
    # transaction, not by replacing each table
    emulator.dbt("INCREMENTAL", ["run", "--full-refresh"], vars={"idstitch": raw})
    runs = build.query("select run_number, full_refresh from idstitch_batches order by 1")
    assert [full for _, full in runs] == [True, False, True]
    problems = diff_results(expected, build.result())
    assert not problems, "Snowflake (full refresh) differs from the reference:\n" + "\n".join(
        problems
    )
    # an early web row is deleted upstream: the count before the watermark no longer holds
    early = next(r for r in batches[0].rows["web_tracks"] if (r["message_id"] or "").strip())
    left = without(stream, [("web_tracks", r) for r in stream.rows["web_tracks"]
                            if r["message_id"] == early["message_id"]])  # fmt: skip
    tables["raw_web_tracks"] = (
        tables["raw_web_tracks"][0],
        [r for r in tables["raw_web_tracks"][1] if r["message_id"] != early["message_id"]],
    )
    write_tables(emulator, "INCREMENTAL", {"raw_web_tracks": tables["raw_web_tracks"]})
    emulator.dbt("INCREMENTAL", ["run"], vars={"idstitch": raw})
    runs = build.query("select run_number, full_refresh from idstitch_batches order by 1")
    assert [full for _, full in runs] == [True, False, True, True]
    expected = stitch(build.config, left.rows, left.rows.get("never_merge", []))
    problems = diff_results(expected, build.result())
    assert not problems, "Snowflake (row deleted) differs from the reference:\n" + "\n".join(
        problems
    )
    assert_raw_row_counts(build.query, tables, LOADED_SOURCES)


def test_audit_reads_through_the_adapter(
    sf_generated: SnowflakeBuild, synthetic_dbt_build: Path, tmp_path: Path
) -> None:
    """`idstitch audit --target` on generated data: every check passes, and the JSON and HTML
    report are those of the same data on DuckDB (assert_same_audit says what may differ)."""
    report, html = tmp_path / "audit.json", tmp_path / "audit.html"
    sf_generated.emulator.idstitch(
        "GENERATED", "audit", "--truth", "true_person_id", "--replay", str(REPLAY),
        "--json", str(report), "--html", str(html),
    )  # fmt: skip
    got = json.loads(report.read_text())
    duck = duckdb_audit(synthetic_dbt_build)
    assert got["ok"] and got["truth"]["events_scored"] > 1000
    assert_same_audit(got, as_json(duck.as_dict()), same_rounds=True)
    assert_same_report(html.read_text(), duck, got)


def test_explain_reads_through_the_adapter(
    sf_generated: SnowflakeBuild, synthetic_dbt_build: Path
) -> None:
    """`idstitch explain --target` of two identifiers of one person gives DuckDB's chain."""
    first, second = one_persons_pair(synthetic_dbt_build)
    printed = sf_generated.emulator.idstitch("GENERATED", "explain", first, second, "--json")
    got = json.loads(printed)
    assert got == duckdb_explanation(synthetic_dbt_build, first, second)


@pytest.mark.parametrize("variant", ["A", "B"])
def test_audit_of_the_rule_builds(
    variant: str,
    sf_rules: tuple[SnowflakeBuild, list[RuleScenario]],
    sf_rules_b: tuple[SnowflakeBuild, list[RuleScenario]],
    tmp_path: Path,
) -> None:
    """Both rule configurations, audited through the adapter with their own var: every
    invariant holds and the sampled profiles replay to the reference."""
    build, _ = sf_rules if variant == "A" else sf_rules_b
    assert_rule_build_audits(
        lambda *args: build.emulator.idstitch(build.database, *args), variant, tmp_path
    )


def test_demo_command_summarizes_and_audits(sf_demo: SnowflakeBuild, demo_build: Build) -> None:
    """`idstitch demo --target` printed the demo's summary and a passing audit."""
    assert_demo_printed(sf_demo.output, demo_build.path)


def test_generate_run_and_summary_through_the_adapter(emulator: Emulator, tmp_path: Path) -> None:
    """`idstitch generate --target`, then `idstitch run` and `summary` on the emulator."""
    generate_and_run(lambda *args: emulator.idstitch("GENSMALL", *args), tmp_path)


def test_forget_writes_through_the_adapter(emulator: Emulator, tmp_path: Path) -> None:
    """`idstitch forget --target`: the request in the erasures table of the emulator's database
    (the md5 of the normalized value, never the value) and in the seed file of the project it
    ran from, a copy of this one."""
    database = "FORGET"
    emulator.dbt(database, ["seed", "--select", "idstitch_erasures"])
    project = copy_project(tmp_path / "project")
    output = emulator.idstitch(
        database, "forget", " Email: Jane.Doe@Example.COM", "--profile", "--id", "sf-forget-1",
        project_dir=project,
    )  # fmt: skip
    con = emulator.connect(database)
    try:
        rows = (
            con.cursor()
            .execute(
                "select erasure_id, id_type, id_value, id_hash, scope"
                f" from {database}.{RAW_SCHEMA}.IDSTITCH_ERASURES"
            )
            .fetchall()
        )
    finally:
        con.close()
    assert_forget_request(
        output, rows, project, "sf-forget-1", "email:jane.doe@example.com", "profile"
    )


@pytest.mark.parametrize("scripting", [True, False])
def test_a_script_is_one_request(emulator: Emulator, tmp_path: Path, scripting: bool) -> None:
    """The loops hand groups of statements to idstitch_run_script: Snowflake gets each group as
    one Snowflake Scripting block (the emulator's shim runs the block's statements in order),
    or, with `idstitch_snowflake_scripting: false`, one request per statement."""
    database = "SCRIPT_BLOCK" if scripting else "SCRIPT_SPLIT"
    con = emulator.connect(database)
    try:
        con.cursor().execute(f"create schema if not exists {database}.IDSTITCH")
    finally:
        con.close()
    statements = [
        "create or replace table script_probe as select 1 as n",
        "insert into script_probe values (2) -- a trailing comment; with a semicolon",
        "insert into script_probe values (3)",
        "select sum(n) as total from script_probe",
    ]
    env = {**emulator.env(database), "DBT_LOG_FORMAT_FILE": "json"}
    env["DBT_LOG_PATH"] = str(tmp_path / "logs")
    args = yaml.safe_dump({"statements": statements, "fetch": True}, width=10_000)
    run_dbt(["run-operation", "idstitch_run_script", "--args", args],
            emulator.profiles_dir, TARGET, env,
            {"idstitch_snowflake_scripting": scripting})  # fmt: skip
    sent = [sql for _, sql in statements_sent(tmp_path / "logs")]
    if scripting:
        assert len(sent) == 1, sent
        assert sent[0].lstrip().startswith("execute immediate $$"), sent[0]
        assert all(s in sent[0] for s in statements)
    else:
        assert len(sent) == len(statements), sent
    con = emulator.connect(database)
    try:
        assert query(con.cursor(), "select sum(n) from script_probe") == [(6,)]
    finally:
        con.close()


def test_a_transaction_in_a_block_applies_whole_or_not_at_all(emulator: Emulator) -> None:
    """idstitch_batches publishes a run as one block holding `begin transaction` ... `commit`:
    its changes apply together, and a block that fails inside the transaction never reaches
    its `commit`, so once the session ends nothing of it is left."""
    database = "TRANSACTION_BLOCK"

    def block(failing: bool) -> str:
        statements = [
            "begin transaction",
            "insert into first_probe values (2)",
            "select n from no_such_table" if failing else "select 1",
            "insert into second_probe values (2)",
            "commit",
        ]
        body = "".join(f"{sql}\n;\n" for sql in statements)
        return f"execute immediate $$\nbegin\n{body}end;\n$$"

    def session(*sql: str) -> list[tuple[Any, ...]]:
        con = emulator.connect(database)
        try:
            rows: list[tuple[Any, ...]] = []
            for statement in sql:
                rows = query(con.cursor(), statement)
            return rows
        finally:
            con.close()

    session(
        f"create schema if not exists {database}.IDSTITCH",
        "create or replace table first_probe as select 1 as n",
        "create or replace table second_probe as select 1 as n",
    )
    totals = "select (select sum(n) from first_probe), (select sum(n) from second_probe)"
    with pytest.raises(Exception, match="(?i)no_such_table"):
        session(block(failing=True))
    assert session(totals) == [(1, 1)]
    session(block(failing=False))
    assert session(totals) == [(3, 3)]


@pytest.fixture(scope="module")
def sf_demo_runs(
    emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> tuple[SnowflakeBuild, list[Count]]:
    """The demo's raw tables and models (no tests), built by `dbt seed` and a full `dbt run` in
    a database of its own, then one new app event and an incremental `dbt run`; each run counted
    (test_round_trips) from its JSON log and the run log right after it, before anything else
    runs there. The failure tests then break and repair the same database (sf_failures): one
    build of the demo serves both."""
    database = "TRIPS"
    emulator.dbt(database, ["seed"])
    build = SnowflakeBuild(emulator, database, parse_config(project_var()), Stream())
    logs = tmp_path_factory.mktemp("snowflake_trips")
    counts = []
    for label in ("full run", "one new event"):
        if label == "one new event":
            con = emulator.connect(database)
            try:
                values = NEW_EVENT_VALUES.format(sent_at="'2024-04-01 10:00:00'::timestamp_ntz")
                table = f"{database}.IDSTITCH_RAW.RAW_APP_EVENTS"
                con.cursor().execute(f"insert into {table} {NEW_EVENT_COLUMNS} values {values}")
            finally:
                con.close()
        env = {**emulator.env(database), "DBT_LOG_FORMAT_FILE": "json"}
        env["DBT_LOG_PATH"] = str(logs / label)
        run_dbt(["run"], emulator.profiles_dir, TARGET, env)
        counts.append(count_run(label, logs / label, Path(env["DBT_TARGET_PATH"]), build.query))
    return build, counts


def test_round_trips(sf_demo_runs: tuple[SnowflakeBuild, list[Count]]) -> None:
    """The requests of the demo's full run and of an incremental run of one new event: the loops
    log exactly the requests dbt sent for them, no other model sends more than its statements,
    and each build is within the target of issue #19 (tests/python/round_trips.py)."""
    _, counts = sf_demo_runs
    assert [c.label for c in counts] == ["full run", "one new event"]
    print("\n".join(c.describe() for c in counts))
    for count in counts:
        assert_counted(count, full=count.label == "full run")
    assert_within_target(counts)


# -- failures: what `idstitch run` says, and what it leaves, when the target is not as it expects


@pytest.fixture(scope="module")
def sf_failures(sf_demo_runs: tuple[SnowflakeBuild, list[Count]]) -> SnowflakeBuild:
    """The demo's raw tables and models (no tests) of sf_demo_runs, which the failure tests
    break and repair (its round-trip counts were taken before)."""
    return sf_demo_runs[0]


def _snapshot(build: SnowflakeBuild) -> Snapshot:
    return {t: Counter(build.query(f"select * from {t}")) for t in MARTS}


def _error_lines(stderr: str) -> list[str]:
    """The lines `idstitch` ends a failure with: `error: ...` and `next: ...`."""
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith(("error:", "next:"))]


def test_a_wrong_password_is_said_so(sf_failures: SnowflakeBuild, tmp_path: Path) -> None:
    """The profile's password is wrong (the emulator refuses it as Snowflake does, error
    390100): one message that names the target and the driver's reason, and how to check it."""
    profile = (sf_failures.emulator.profiles_dir / "profiles.yml").read_text()
    assert "password: emulator" in profile
    (tmp_path / "profiles.yml").write_text(profile.replace("password: emulator", "password: x"))
    before = _snapshot(sf_failures)
    stderr = sf_failures.emulator.failing_idstitch(
        sf_failures.database, "run", profiles_dir=tmp_path
    )
    error, hint = _error_lines(stderr)
    assert error.startswith(
        "error: cannot connect to the warehouse of target `snowflake_emulator`: 390100 (28000):"
    ), error
    assert error.endswith("Incorrect username or password was specified."), error
    assert hint.startswith("next: Check that target in profiles.yml")
    assert "dbt debug --target snowflake_emulator" in hint
    assert not diff_snapshots(before, _snapshot(sf_failures))


def test_a_missing_raw_table_is_named(sf_failures: SnowflakeBuild) -> None:
    """A raw table the var reads is gone: the run stops before it writes anything, with one
    message that names the table and the source that reads it."""
    raw = f"{sf_failures.database}.{RAW_SCHEMA}"
    before = _snapshot(sf_failures)
    sf_failures.query(f"alter table {raw}.raw_app_events rename to {raw}.kept_app_events")
    try:
        stderr = sf_failures.emulator.failing_idstitch(sf_failures.database, "run")
    finally:
        sf_failures.query(f"alter table {raw}.kept_app_events rename to {raw}.raw_app_events")
    error, hint = _error_lines(stderr)
    assert error.startswith("error: idstitch: the raw table "), error
    assert "raw_app_events does not exist; source `app_events` of the idstitch var reads" in error
    assert hint.startswith("next: Nothing was written")
    assert not diff_snapshots(before, _snapshot(sf_failures))


def test_erasure_and_deleted_rows(emulator: Emulator) -> None:
    """docs/semantics.md §3c on Snowflake: requests of both scopes from the first run; rows of
    new people and an erased value arriving again (an incremental run); rows in the partition
    of an erased profile (a full run); then raw rows deleted upstream. After each run the marts
    equal the reference and no stored table holds an erased value or hash, nor any value of an
    erased profile."""
    raw = project_var()
    cfg = parse_config(raw)
    scenarios = named_erasure_scenarios()
    stream = random_stream(RULE_CASES, SEED + 3, rules=True)
    first = two_batches(stream, SEED)
    fresh = combined(random_case(case, SEED + 3) for case in range(RULE_CASES, RULE_CASES + 3))
    requests = random_erasures(stream, SEED, 0.1, cfg) + [r for s in scenarios for r in s.erasures]
    assert {(r["scope"] or "identifier").strip().lower() for r in requests} == {
        "identifier",
        "profile",
    }
    deletes = [d for d in random_deletes(first, SEED, 0.08) if d[0] != "never_merge"]
    runs = [
        combined([first, *(s.at_stage(0) for s in scenarios)]),
        combined([first, fresh, *(s.at_stage(1) for s in scenarios)]),
        combined([stream, fresh, *(s.at_stage(2) for s in scenarios)]),
        without(combined([stream, fresh, *(s.at_stage(3) for s in scenarios)]), deletes),
    ]
    db = "ERASURE"
    build = SnowflakeBuild(emulator, db, cfg, runs[-1])
    for batch in runs:
        write_raw(emulator, db, batch)
        write_tables(emulator, db, {"idstitch_erasures": (list(ERASURE_COLUMNS), requests)})
        emulator.dbt(db, ["run"], vars={"idstitch": raw})
        views = {
            t
            for (t,) in build.query(
                "select table_name from information_schema.views"
                " where lower(table_schema) = 'idstitch'"
            )
        }
        assert views  # the staging views read the raw rows; the stored tables must not hold them
        assert_erased_run(
            cfg, batch, requests, build.result(), build.query, "IDSTITCH", exclude_tables=views
        )
    batches = build.query("select full_refresh from idstitch_batches order by run_number")
    full = [f for (f,) in batches]
    # the second run brought new people only; the third, rows in the partition of an erased
    # profile; the fourth saw the deleted rows
    assert full == [True, False, True, True]
    ((erased,),) = build.query(
        "select count(*) from idstitch_rejected_events where reason = 'erased'"
    )
    ((values,),) = build.query(
        "select count(*) from idstitch_rejected_identifiers where reason = 'erased'"
    )
    assert erased > 3 and values > 5
