"""The audit: a clean demo passes; each kind of corruption fails the check made for it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from idstitch.audit import database_label, invariant_checks, run_audit
from idstitch.cli import main
from idstitch.marts import DuckDBMarts
from idstitch.runner import PROJECT_DIR, DbtProject

from conftest import Build
from warehouse import connect, corrupted_copy, query

JANE = "md5('anonymous_id:anon-7c1e')"
ERASURES = "erasures honoured"


def _corrupted(build: Build, tmp_path: Path, statements: list[str]) -> Path:
    return corrupted_copy(build.path, tmp_path / "demo.duckdb", statements)


def test_clean_demo_passes_every_check(demo_build: Build) -> None:
    result = run_audit(demo_build.path)
    assert result.ok, [(c.name, c.detail, c.examples) for c in result.failed]
    by_name = {c.name: c for c in result.checks}
    assert not by_name["replay of sampled profiles"].skipped
    assert not by_name["type limits respected"].skipped  # the demo limits user_id, email, phone
    # the family tablet is listed as shared; devices seen with exactly one user id sit at the
    # threshold (`shared_after: {user_id: 1}`)
    assert [(r["id_value"], r["distinct_linked"]) for r in result.shared] == [("web-fam-tablet", 2)]
    assert result.near_shared and all(r["distinct_linked"] == 1 for r in result.near_shared)
    con = connect(demo_build.path)
    try:
        rejected = query(con, "select count(*) from idstitch_rejected_events")[0][0]
        sizes = query(con, "select count(*), max(identifier_count) from rudder_profiles")[0]
    finally:
        con.close()
    assert sum(r["events"] for r in result.rejected_events) == rejected
    assert sum(n for _, _, n in result.size_histogram) == sizes[0] == result.profiles
    assert result.largest_profiles[0]["identifier_count"] == sizes[1]
    assert result.super_nodes[0]["id_value"] == "u_1001"  # Jane's user id links 5 identifiers


@pytest.mark.parametrize(
    ("check", "statements"),
    [
        (
            "one rudder_id per node",
            [
                "insert into rudder_identity_mappings select * replace (md5('twice') as "
                "rudder_id) from rudder_identity_mappings where id_value = 'u_2002'"
            ],
        ),
        (
            "applied merge rules within one profile",
            [
                "update rudder_identity_mappings set rudder_id = md5('elsewhere') "
                "where id_type = 'email' and id_value = 'jane.doe@example.com'"
            ],
        ),
        (
            "every event identified or rejected",
            ["delete from rudder_identified_events where event_id = 'a003'"],
        ),
        (
            "rudder_id of the earliest node",
            [
                "update rudder_identity_mappings set rudder_id = md5('user_id:u_1001') "
                f"where rudder_id = {JANE}"
            ],
        ),
        (
            "replay of sampled profiles",  # invariants still hold; only the replay sees it
            [
                "update rudder_identity_mappings set event_count = event_count + 1 "
                "where id_value = 'jane.doe@example.com'"
            ],
        ),
    ],
)
def test_each_corruption_fails_its_check(
    demo_build: Build, tmp_path: Path, check: str, statements: list[str]
) -> None:
    path = _corrupted(demo_build, tmp_path, statements)
    result = run_audit(path, replay=50 if check.startswith("replay") else 0)
    failed = {c.name for c in result.failed}
    assert check in failed
    assert not result.ok
    failing = next(c for c in result.checks if c.name == check)
    assert failing.failures >= 1 and failing.examples


def test_corrupted_mapping_exits_1_from_the_command(demo_build: Build, tmp_path: Path) -> None:
    path = _corrupted(
        demo_build,
        tmp_path,
        [
            "update rudder_identity_mappings set rudder_id = md5('elsewhere') "
            "where id_type = 'user_id' and id_value = 'u_1001'"
        ],
    )
    report = tmp_path / "audit.json"
    result = CliRunner().invoke(
        main, ["audit", "--duckdb", str(path), "--json", str(report), "--replay", "0"]
    )
    assert result.exit_code == 1, result.output
    assert "audit failed" in result.output
    data = json.loads(report.read_text())
    assert data["ok"] is False
    assert "applied merge rules within one profile" in {
        c["name"] for c in data["checks"] if not c["ok"]
    }


def test_clean_demo_exits_0_from_the_command(demo_build: Build, tmp_path: Path) -> None:
    path = _corrupted(demo_build, tmp_path, [])
    result = CliRunner().invoke(main, ["audit", "--duckdb", str(path), "--replay", "0"])
    assert result.exit_code == 0, result.output
    assert "audit passed" in result.output


def _limit_check(build: Build, limits: dict[str, tuple[int, str]]) -> Any:
    """The audit's limit invariant on the demo's marts, under the demo's config with `limits`
    ({type: (count, per)}) instead of its own for those types."""
    config = replace(
        build.config,
        id_types=tuple(
            replace(t, limit=limits[t.name][0], limit_per=limits[t.name][1])
            if t.name in limits
            else t
            for t in build.config.id_types
        ),
    )
    wh = DuckDBMarts(build.path, "idstitch")
    try:
        checks = {c.name: c for c in invariant_checks(wh, config)}
    finally:
        wh.close()
    return checks["type limits respected"]


def test_a_type_limit_is_checked(demo_build: Build) -> None:
    # the demo does not limit anonymous ids for ever: check the audit with a config that does.
    # Jane has two anonymous ids, so a limit of 1 is broken once.
    limit = _limit_check(demo_build, {"anonymous_id": (1, "ever")})
    assert not limit.ok and not limit.skipped
    assert {e["rudder_id"] for e in limit.examples} >= {
        "fd77def6c6df544bf822039761f33ccb"
    }  # md5('anonymous_id:anon-7c1e'), Jane


def test_a_type_limit_over_a_period_is_left_to_the_replay(demo_build: Build) -> None:
    # the same limit of 1 on anonymous ids, per week: Jane may rightly hold two (docs/semantics.md
    # §3b; her second id may come after the first left the window), and the marts cannot tell
    # whether it did, so the invariant does not count them; it says the replay checks them
    limit = _limit_check(demo_build, {"anonymous_id": (1, "week")})
    assert limit.ok and not limit.skipped  # user_id, email and phone are still counted
    assert "(the replay checks them): anonymous_id per week" in limit.detail
    # a type limited for ever is still counted exactly beside it: a user id limit of 0 would be
    # refused by the parser, so break the email limit instead (Jane has one email: limit 0)
    limit = _limit_check(demo_build, {"anonymous_id": (1, "week"), "email": (0, "ever")})
    assert not limit.ok and {e["id_type"] for e in limit.examples} == {"email"}
    assert "(the replay checks them): anonymous_id per week" in limit.detail


def test_missing_build_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "nothing.duckdb"
    import duckdb

    duckdb.connect(str(path)).close()
    result = CliRunner().invoke(main, ["audit", "--duckdb", str(path)])
    assert result.exit_code == 2
    assert "idstitch run" in result.stderr


def test_unknown_truth_column_exits_2(demo_build: Build) -> None:
    result = CliRunner().invoke(
        main,
        ["audit", "--duckdb", str(demo_build.path), "--truth", "no_such_column", "--replay", "0"],
    )
    assert result.exit_code == 2
    assert "no_such_column" in result.stderr


# --- the report names the database as the user gave it, never by this machine's layout


def test_database_label_keeps_relative_paths_and_shortens_the_project() -> None:
    assert database_label(Path("idstitch.duckdb")) == "idstitch.duckdb"
    assert database_label(Path("../x.duckdb")) == "../x.duckdb"
    # the default file, or $IDSTITCH_DUCKDB_PATH pointing into the project
    assert database_label(PROJECT_DIR / "idstitch.duckdb") == "idstitch.duckdb"
    assert database_label(PROJECT_DIR / "builds" / "a.duckdb") == "builds/a.duckdb"
    # an absolute path elsewhere can only have come from the user: shown as it is
    assert database_label(Path("/data/x.duckdb")) == "/data/x.duckdb"
    project = DbtProject(target="duckdb")
    assert database_label(PROJECT_DIR / "idstitch.duckdb", project) == (
        "idstitch.duckdb (dbt target duckdb)"
    )


def test_reports_name_the_database_as_typed(
    demo_build: Build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "builds").mkdir()
    copy = _corrupted(demo_build, tmp_path / "builds", [])  # tmp_path/builds/demo.duckdb
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("IDSTITCH_DUCKDB_PATH", "../builds/demo.duckdb")  # dbt sets it; restored
    result = CliRunner().invoke(
        main,
        ["audit", "--duckdb", "../builds/demo.duckdb", "--replay", "0"]
        + ["--json", "audit.json", "--html", "audit.html"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((work / "audit.json").read_text())["database"] == "../builds/demo.duckdb"
    html = (work / "audit.html").read_text()
    assert "../builds/demo.duckdb ·" in html
    assert str(tmp_path) not in html
    assert run_audit(copy, replay=0, database="mine.duckdb").database == "mine.duckdb"


# --- --target: the same audit through the dbt adapter


def test_the_adapter_path_gives_the_file_audit(demo_build: Build, tmp_path: Path) -> None:
    """`--target duckdb` reads the demo through dbt's DuckDB adapter, with the same query text
    as every other target: the JSON is the file's, but for the build's name."""
    report = tmp_path / "audit.json"
    result = CliRunner().invoke(
        main,
        ["audit", "--target", "duckdb", "--duckdb", str(demo_build.path), "--json", str(report)],
    )
    assert result.exit_code == 0, result.output
    got = json.loads(report.read_text())
    want = json.loads(json.dumps(run_audit(demo_build.path).as_dict(), default=str))
    assert got.pop("database") == "dbt target duckdb"
    want.pop("database")
    assert got == want
    replay = next(c for c in got["checks"] if c["name"] == "replay of sampled profiles")
    assert replay["ok"] and not replay["skipped"]


def test_the_adapter_path_fails_a_corrupted_build(demo_build: Build, tmp_path: Path) -> None:
    path = _corrupted(
        demo_build,
        tmp_path,
        [
            "update rudder_identity_mappings set event_count = event_count + 1 "
            "where id_value = 'jane.doe@example.com'"
        ],
    )
    report = tmp_path / "audit.json"
    result = CliRunner().invoke(
        main, ["audit", "--target", "duckdb", "--duckdb", str(path), "--json", str(report)]
    )
    assert result.exit_code == 1, result.output
    failed = {c["name"] for c in json.loads(report.read_text())["checks"] if not c["ok"]}
    assert failed == {"replay of sampled profiles"}


def test_an_unknown_target_exits_2(demo_build: Build) -> None:
    result = CliRunner().invoke(
        main, ["audit", "--target", "no_such_target", "--duckdb", str(demo_build.path)]
    )
    assert result.exit_code == 2
    assert "no_such_target" in result.stderr and "dbt debug" in result.stderr


def test_a_target_without_a_build_exits_2(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "nothing.duckdb"
    duckdb.connect(str(path)).close()
    for command in (["audit"], ["explain", "user_id:a", "user_id:b"]):
        result = CliRunner().invoke(main, [*command, "--target", "duckdb", "--duckdb", str(path)])
        assert result.exit_code == 2, result.output
        assert "dbt target duckdb has no" in result.stderr and "idstitch run" in result.stderr


def test_a_failing_query_on_a_target_exits_2(demo_build: Build, tmp_path: Path) -> None:
    """A query the warehouse refuses (here: a raw table the replay reads is gone) is one clear
    message naming the target, not a traceback."""
    path = _corrupted(demo_build, tmp_path, ["drop table idstitch_raw.raw_web_tracks"])
    result = CliRunner().invoke(main, ["audit", "--target", "duckdb", "--duckdb", str(path)])
    assert result.exit_code == 2, result.output
    assert "a query failed on dbt target duckdb" in result.stderr
    assert "raw_web_tracks" in result.stderr


# --- erasures honoured (docs/semantics.md §3c)


def _erasure_insert(erasure_id: str, id_type: str, value: str | None, hash_: str | None) -> str:
    def lit(v: str | None) -> str:
        return "null" if v is None else "'" + v + "'"

    return (
        "insert into idstitch_raw.idstitch_erasures values "
        f"({lit(erasure_id)}, timestamp '2024-06-01', {lit(id_type)}, {lit(value)}, "
        f"{lit(hash_)}, 'identifier')"
    )


def test_erasures_check_is_skipped_without_requests(demo_build: Build) -> None:
    check = next(c for c in run_audit(demo_build.path, replay=0).checks if c.name == ERASURES)
    assert check.ok and check.skipped
    assert "no erasure requests" in check.detail


def test_erasures_check_fails_on_a_value_still_in_the_marts(
    demo_build: Build, tmp_path: Path
) -> None:
    """The SQL does not apply the requests here: the check must find what is left, and name
    where, without printing the value."""
    con = connect(demo_build.path)
    try:
        rudder_id = query(con, "select rudder_id from rudder_identity_mappings "
                               "where id_value = 'u_1001'")[0][0]  # fmt: skip
    finally:
        con.close()
    path = _corrupted(
        demo_build,
        tmp_path,
        [
            _erasure_insert("by_value", " EMAIL ", " Jane.Doe@Example.com", None),
            _erasure_insert("by_hash", "", None, rudder_id.upper()),
        ],
    )
    result = run_audit(path, replay=0)
    check = next(c for c in result.checks if c.name == ERASURES)
    assert not check.ok and not check.skipped
    places = {(e["table"], e["column"], e["erasure_id"]) for e in check.examples}
    assert ("rudder_identity_mappings", "id_value", "by_value") in places
    assert ("rudder_identified_events", "rudder_id", "by_hash") in places
    assert "rudder_identity_mappings" in check.detail
    assert "jane" not in json.dumps(check.examples).lower()
    # the repository's seeds, raw tables and the requests themselves are not scanned, nor the
    # views that show the raw rows; a table that stores the raw text is
    assert not [e for e in check.examples if e["table"].startswith(("raw_", "idstitch_erasures"))]
    assert "stg_idstitch__raw_identifiers" not in {e["table"] for e in check.examples}
    assert ("stg_idstitch__identifiers", "raw_value", "by_value") in places


def test_erasures_check_fails_on_a_bad_request(demo_build: Build, tmp_path: Path) -> None:
    path = _corrupted(demo_build, tmp_path, [_erasure_insert("broken", "loyalty", "x", None)])
    check = next(c for c in run_audit(path, replay=0).checks if c.name == ERASURES)
    assert not check.ok and "erasure request `broken`" in check.detail
