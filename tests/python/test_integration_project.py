"""idstitch as a dbt package: integration_tests/ is a shop's own dbt project that installs it
with `local: ..`, sets the `idstitch` var in its own dbt_project.yml, names its own rule relation
and builds. Its marts equal the reference on its own data, a second load runs incrementally to
the same result, and nothing of the demo (seeds, sources, rules) reaches it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from idstitch.config import Config, parse_config
from idstitch.reference import rudder_id_of, stitch
from idstitch.runner import PROJECT_DIR, DbtProject

from warehouse import connect, csv_rows, diff_results, query, read_result

INTEGRATION_DIR = PROJECT_DIR / "integration_tests"
SCHEMA = "analytics"  # the integration profile's target schema
SEEDS = INTEGRATION_DIR / "seeds"

# a second load of the storefront: one more session for Olivia's second email, and one that
# tries to put a third customer on Noah's cookie (the customer_id limit refuses it again)
LATE_SESSIONS = [
    ("s-10", "2025-02-08 10:00:00", "ck-gg", None, "Olivia.B@example.co.uk"),
    ("s-11", "2025-02-08 11:00:00", "ck-cc", "c-600", None),
]
LATE_LOADED_AT = "2025-02-08 12:00:00"


def _config() -> Config:
    with open(INTEGRATION_DIR / "dbt_project.yml") as f:
        return parse_config(yaml.safe_load(f)["vars"]["idstitch"])


def _expected(config: Config, late: bool) -> Any:
    sessions = csv_rows(SEEDS / "storefront_sessions.csv", "started_at", "_loaded_at")
    if late:
        sessions += [
            {
                "session_id": sid,
                "started_at": datetime.fromisoformat(at),
                "cookie_id": cookie,
                "customer_id": customer,
                "email": email,
                "_loaded_at": datetime.fromisoformat(LATE_LOADED_AT),
            }
            for sid, at, cookie, customer, email in LATE_SESSIONS
        ]
    rows = {
        "storefront": sessions,
        "orders": csv_rows(SEEDS / "orders.csv", "ordered_at"),
        "manual_merges": csv_rows(SEEDS / "shop_support_merges.csv", "merged_at"),
    }
    return stitch(config, rows)  # never-merge pairs: the package's seed, empty


@pytest.fixture(scope="module")
def integration(tmp_path_factory: pytest.TempPathFactory) -> tuple[DbtProject, Path, Any]:
    path = tmp_path_factory.mktemp("integration") / "integration.duckdb"
    project = DbtProject(
        project_dir=INTEGRATION_DIR, profiles_dir=INTEGRATION_DIR, duckdb_path=path
    )
    project.invoke(["deps"])
    manifest = project.parse()
    project.invoke(["seed"])
    project.invoke(["build", "--exclude", "resource_type:seed"])
    return project, path, manifest


def test_the_demo_does_not_leak_into_a_project_that_installs_idstitch(
    integration: tuple[DbtProject, Path, Any],
) -> None:
    _, path, manifest = integration
    seeds = {n.name for n in manifest.nodes.values() if n.resource_type == "seed"}
    assert seeds == {
        "storefront_sessions",
        "orders",
        "shop_support_merges",
        "idstitch_manual_merges",
        "idstitch_never_merge",
        "idstitch_erasures",
    }
    assert {(s.source_name, s.name) for s in manifest.sources.values()} == {
        ("shop", "storefront_sessions"),
        ("shop", "orders"),
    }
    # the package's models, tests and unit test are all there, under the package's name
    packages = {n.package_name for n in manifest.nodes.values() if n.resource_type == "model"}
    assert packages == {"idstitch"}
    assert any(n.resource_type == "unit_test" for n in manifest.unit_tests.values())
    con = connect(path, SCHEMA)
    try:
        tables = {t for (t,) in query(con, "select table_name from information_schema.tables")}
        values = {v for (v,) in query(con, "select id_value from rudder_identity_mappings")}
    finally:
        con.close()
    assert not {t for t in tables if t.startswith("raw_")}, tables
    # the demo's rule rows (its manual merge, its never-merge pair) are nowhere
    assert not values & {"ana.silva@fabrikam.org", "anon-55aa", "m.lee@contoso.com"}


def test_the_package_build_equals_the_reference(
    integration: tuple[DbtProject, Path, Any],
) -> None:
    _, path, _ = integration
    config = _config()
    expected = _expected(config, late=False)
    con = connect(path, SCHEMA)
    try:
        actual = read_result(con, config)
    finally:
        con.close()
    assert not diff_results(expected, actual), diff_results(expected, actual)
    # the story the shop's data tells, spelled out
    olivia = rudder_id_of(("cookie_id", "ck-aa"))
    assert expected.mappings[("phone", "+447700900123")].rudder_id == olivia
    assert expected.mappings[("email", "olivia.b@example.co.uk")].rudder_id == olivia
    ava = rudder_id_of(("cookie_id", "ck-ee"))
    assert expected.mappings[("customer_id", "c-500")].rudder_id == ava  # the support merge
    refused = ("customer_id", "c-300")  # refused by the customer_id limit: a profile of its own
    assert expected.mappings[refused].rudder_id == rudder_id_of(refused)


def test_a_second_load_runs_incrementally_to_the_same_result(
    integration: tuple[DbtProject, Path, Any],
) -> None:
    project, path, _ = integration
    con = duckdb.connect(str(path))
    try:
        con.executemany(
            f"insert into {SCHEMA}_shop_raw.storefront_sessions values (?, ?, ?, ?, ?, ?)",
            [[*row, LATE_LOADED_AT] for row in LATE_SESSIONS],
        )
    finally:
        con.close()
    project.invoke(["build", "--exclude", "resource_type:seed"])
    config = _config()
    con = connect(path, SCHEMA)
    try:
        actual = read_result(con, config)
        runs = query(con, "select full_refresh from idstitch_batches order by run_number")
    finally:
        con.close()
    assert [r for (r,) in runs] == [True, False]
    expected = _expected(config, late=True)
    assert not diff_results(expected, actual), diff_results(expected, actual)
    assert actual.mappings[("cookie_id", "ck-gg")].rudder_id == rudder_id_of(("cookie_id", "ck-aa"))
