"""Resolution rules: SQL == reference on random streams mixing every rule, and named scenarios."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from idstitch.config import parse_config
from idstitch.reference import stitch
from idstitch.runner import DbtProject
from rules import RuleScenario, assert_scenario, config, rule_stream

from conftest import Build
from warehouse import assert_matches_reference, connect, query, write_raw

CASES_PER_BUILD = 260


def _build(tmp: Path, variant: str) -> tuple[Build, list[RuleScenario]]:
    raw = config(variant)
    stream, named = rule_stream(variant, CASES_PER_BUILD)
    path = tmp / f"rules_{variant.lower()}.duckdb"
    write_raw(path, stream)
    project = DbtProject(duckdb_path=path, vars={"idstitch": raw})
    project.invoke(["build", "--exclude", "resource_type:seed"])
    return Build(path, project, parse_config(raw), stream, []), named


@pytest.fixture(scope="session", params=["A", "B"])
def rules_build(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Build, list[RuleScenario]]:
    return _build(tmp_path_factory.mktemp(f"rules{request.param}"), request.param)


def test_sql_equals_reference_under_rules(rules_build: tuple[Build, list[RuleScenario]]) -> None:
    build, _ = rules_build
    expected = assert_matches_reference(build.path, build.config, build.stream)
    # the rules did bind: the outcomes each build is designed to produce all occur
    violations = {r for (*_, r, _) in expected.limit_violations}
    skipped = {r for (*_, r, _) in expected.skipped_aliases}
    rejected = {r for (_, _, _, r) in expected.rejected_events}
    assert violations >= {"limit_exceeded", "never_merge"}
    assert "owned_by_other_profile" in skipped
    assert "multiple_profiles_matched" in rejected
    if build.path.stem.endswith("a"):
        assert "limit_exceeded" in skipped
    else:
        assert rejected >= {"limit_exceeded", "never_merge"}
        assert len(expected.shared_identifiers) > 10  # build B has shared devices
    assert sum(not e.applied for e in expected.merge_rules.values()) > 10
    # limits over a period bound, and lapsed: each period type refused a union, and counting
    # every value ever seen instead would have refused others
    periods = {t.name for t in build.config.id_types if t.limit_window is not None}
    limit_types = {t for (*_, t) in expected.limit_violations} | {
        t for (*_, t) in expected.skipped_aliases
    }
    assert len(periods & limit_types) >= (3 if build.path.stem.endswith("a") else 2)
    ever = replace(
        build.config,
        id_types=tuple(replace(t, limit_per="ever") for t in build.config.id_types),
    )
    stream = build.stream
    counted_ever = stitch(ever, stream.rows, stream.rows.get("never_merge", []))
    lapsed = {k: r.rudder_id for k, r in expected.mappings.items()} != {
        k: r.rudder_id for k, r in counted_ever.mappings.items()
    }
    assert lapsed and len(counted_ever.limit_violations) > len(expected.limit_violations)


def test_rule_scenarios(rules_build: tuple[Build, list[RuleScenario]]) -> None:
    build, scenarios = rules_build
    con = connect(build.path)
    try:
        rudder = {
            (t, v): r
            for t, v, r in query(
                con, "select id_type, id_value, rudder_id from rudder_identity_mappings"
            )
        }
        violations = query(con, "select event_id from idstitch_limit_violations")
        limit_types = set(
            query(con, "select event_id, id_value, limit_type from idstitch_limit_violations")
        )
        skipped = set(query(con, "select id_value, reason from idstitch_skipped_aliases"))
        rejected = set(query(con, "select event_id, reason from idstitch_rejected_events"))
        shared = {(t, v) for t, v, *_ in query(con, "select * from idstitch_shared_identifiers")}
        sizes = dict(query(con, "select rudder_id, identifier_count from rudder_profiles"))
        rounds = query(
            con,
            """
            select count(*) from idstitch_run_log where step = 'constrained_resolution'""",
        )
    finally:
        con.close()
    for s in scenarios:
        assert_scenario(s, rudder, skipped, rejected)
        if s.violations is not None:
            prefix = s.stream.rows[next(iter(s.stream.rows))][0]
            mine = [e for (e,) in violations if e.startswith(_prefix_of(prefix))]
            assert len(mine) == s.violations, f"{s.name}: {len(mine)} violations"
        for row in s.limit_types:
            assert row in limit_types, f"{s.name}: no violation {row}"
        for node in s.shared:
            assert node in shared, f"{s.name}: {node} not shared"
        if s.largest_profile is not None:
            mine = {rudder[n] for n in _nodes_of(s)}
            assert max(sizes[r] for r in mine) == s.largest_profile, f"{s.name}: a giant profile"
    assert rounds[0][0] >= 1, "the constrained resolution logged no round"


def _prefix_of(row: dict[str, object]) -> str:
    event_id = next(
        v for k, v in row.items() if k in ("message_id", "event_id", "lead_id", "merge_id")
    )
    return "_".join(str(event_id).split("_")[:2])


def _nodes_of(s: RuleScenario) -> set[tuple[str, str]]:
    return {n for pair in s.together + s.apart for n in pair} | set(s.shared)
