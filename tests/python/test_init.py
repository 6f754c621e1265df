"""`idstitch init`: on the demo's raw tables its guess rebuilds the demo row for row; on
made-up column lists, each guessing rule (no warehouse needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from idstitch import scaffold
from idstitch.cli import main
from idstitch.config import parse_config
from idstitch.incremental_bench import MARTS as RESULT_MARTS
from idstitch.incremental_bench import diff_snapshots, snapshot
from idstitch.runner import DbtProject
from idstitch.scaffold import Column, DeclaredSource, Table, Warehouse

from conftest import Build, project_var
from warehouse import copy_database

# the result tables a full refresh writes, and the lineage of the build
MARTS = [*RESULT_MARTS, "rudder_id_lineage"]


@pytest.fixture(scope="module")
def demo_init(demo_build: Build, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The YAML `idstitch init` writes for the demo's build (every schema read)."""
    out = tmp_path_factory.mktemp("init") / "idstitch.yml"
    result = CliRunner().invoke(main, ["init", "--duckdb", str(demo_build.path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_text()


def test_init_finds_the_demo_configuration(demo_init: str) -> None:
    loaded = yaml.safe_load(demo_init)
    assert list(loaded) == ["idstitch"]
    var = loaded["idstitch"]
    assert var["manual_merges"] == {"source": "demo.raw_manual_merges"}
    assert var["never_merge"] == {"source": "demo.raw_never_merge"}
    demo = project_var()
    assert var["id_types"] == demo["id_types"]
    assert var["blocked_values"] == demo["blocked_values"]
    # the same sources as the demo's hand-written var, key for key
    by_name = {s["name"]: s for s in var["sources"]}
    assert by_name == {s["name"]: s for s in demo["sources"]}
    assert "# guessed:" in demo_init
    assert "sources to declare" not in demo_init  # every demo table is a declared dbt source
    # idstitch's own tables (the target schema, the rule seeds) are not read
    assert "look like idstitch's own outputs" in demo_init


def test_init_rebuilds_the_demo(demo_build: Build, demo_init: str, tmp_path: Path) -> None:
    var = yaml.safe_load(demo_init)["idstitch"]
    parse_config(var)
    copy = tmp_path / "demo.duckdb"
    copy_database(demo_build.path, copy)
    # only the raw tables stay: every mart below is built from init's var alone
    con = duckdb.connect(str(copy))
    try:
        con.execute("drop schema idstitch cascade")
    finally:
        con.close()
    DbtProject(duckdb_path=copy, vars={"idstitch": var}).invoke(
        ["build", "--exclude", "resource_type:seed"], quiet=True
    )
    expected, actual = snapshot(demo_build.path, MARTS), snapshot(copy, MARTS)
    assert not diff_snapshots(expected, actual), diff_snapshots(expected, actual)
    assert sum(len(rows) for rows in expected.values()) > 50


# --- the guessing rules, on made-up tables -----------------------------------------------------


def _table(name: str, *columns: str, schema: str = "raw") -> Table:
    """A table from `name:type` strings (type varchar when left out)."""
    cols = []
    for c in columns:
        col, _, data_type = c.partition(":")
        cols.append(Column(col, data_type or "varchar"))
    return Table(schema, name, tuple(cols))


def _warehouse(*tables: Table, outputs: tuple[str, ...] = ()) -> Warehouse:
    schemas = tuple(sorted({t.schema for t in tables}))
    return Warehouse("duckdb", "db", "idstitch", schemas, tables, outputs)


EVENTS = _table(
    "raw_events",
    "message_id",
    "timestamp:TIMESTAMP",
    "anonymousId",
    "user_id",
    "context_traits_email",
    "email_verified:BOOLEAN",
    "device_type",
    "first_name",
    "event",
)
DECLARED = [
    DeclaredSource("app", "raw_events", "raw", "raw_events", "db", "models/_app__sources.yml")
]


def _loads(text: str) -> dict[str, Any]:
    loaded = yaml.safe_load(text)
    assert list(loaded) == ["idstitch"]
    return dict(loaded["idstitch"])


def test_event_source_guesses() -> None:
    s = scaffold.guess(_warehouse(EVENTS), DECLARED)
    (source,) = _loads(scaffold.render(s))["sources"]
    assert source == {
        "name": "events",
        "source": "app.raw_events",
        "event_id": "message_id",
        "occurred_at": "timestamp",
        "strategy": "merge",
        "identifiers": {"anonymousId": "anonymous_id", "user_id": "user_id",
                        "context_traits_email": "email"},
        "traits": ["first_name"],
    }  # fmt: skip
    assert s.id_types == ["user_id", "email", "anonymous_id"]
    text = scaffold.render(s)
    assert 'guessed: column name "context_traits_email" contains "email"' in text
    parse_config(_loads(text))


def test_a_second_phone_column_is_an_alias() -> None:
    crm = _table("crm_contacts", "contact_id", "updated_at:TIMESTAMP", "mobile", "phone", "email")
    s = scaffold.guess(_warehouse(crm))
    (source,) = s.var()["idstitch"]["sources"]
    assert source["identifiers"] == {"phone": "phone", "email": "email"}
    assert source["aliases"] == {"mobile": "phone"}
    assert source["event_id"] == "contact_id"
    assert source["strategy"] == "strict"  # a CRM table: curated one-person records
    text = scaffold.render(s)
    assert "alias" in next(line for line in text.splitlines() if "mobile: phone" in line)
    parse_config(_loads(text))


def test_rule_shaped_tables_are_rules_not_sources() -> None:
    never = _table("do_not_link", "pair_id", "id1_type", "id1_value", "id2_type", "id2_value",
                   "note")  # fmt: skip
    manual = _table("support_merges", "merge_id", "merged_at:TIMESTAMP", "id1_type",
                    "id1_value", "id2_type", "id2_value")  # fmt: skip
    s = scaffold.guess(_warehouse(EVENTS, never, manual), DECLARED)
    text = scaffold.render(s)
    var = _loads(text)
    # undeclared tables of a schema that has a declared dbt source go into that source
    assert var["never_merge"] == {"source": "app.do_not_link"}
    assert var["manual_merges"] == {"source": "app.support_merges"}
    assert "Source app is already declared for schema raw in models/_app__sources.yml" in text
    assert [x["name"] for x in var["sources"]] == ["events"]
    parse_config(var)


def test_an_undeclared_table_gets_a_sources_block() -> None:
    leads = _table(
        "Webinar_Leads", "lead_id", "registered_at:TIMESTAMP", "email", "phone_number",
        "company", schema="marketing",
    )  # fmt: skip
    s = scaffold.guess(_warehouse(leads))
    text = scaffold.render(s)
    var = _loads(text)
    assert var["sources"][0]["source"] == "marketing.webinar_leads"
    assert var["sources"][0]["identifiers"] == {"email": "email", "phone_number": "phone"}
    parse_config(var)
    # the block at the end, uncommented, is a dbt sources file
    block = text.split("# version: 2", 1)[1]
    uncommented = "version: 2\n" + "\n".join(line[2:] for line in block.splitlines())
    assert yaml.safe_load(uncommented) == {
        "version": 2,
        "sources": [
            {
                "name": "marketing",
                "schema": "marketing",
                "tables": [{"name": "webinar_leads", "identifier": "Webinar_Leads"}],
            }
        ],
    }


def test_idstitch_outputs_and_tables_without_identifiers_are_skipped() -> None:
    products = _table("products", "id", "title", "price:DOUBLE")
    own = _table("rudder_profiles", "rudder_id", "email", "first_seen_at:TIMESTAMP")
    stg = _table("stg_idstitch__events", "source", "event_id", "occurred_at:TIMESTAMP")
    s = scaffold.guess(
        _warehouse(EVENTS, products, own, stg, outputs=("idstitch.idstitch_run_log",)),
        DECLARED,
    )
    assert [x.name for x in s.sources] == ["events"]
    assert s.outputs == [
        "idstitch.idstitch_run_log", "raw.rudder_profiles", "raw.stg_idstitch__events"
    ]  # fmt: skip
    assert s.skipped == [
        ("raw.products", "no column looks like an identifier (columns: id, title, price)")
    ]
    text = scaffold.render(s)
    assert "#   raw.products: no column looks like an identifier" in text
    assert "3 tables that look like idstitch's own outputs" in text


def test_no_source_at_all_is_an_error() -> None:
    with pytest.raises(scaffold.ScaffoldError, match="no table in schemas raw"):
        scaffold.guess(_warehouse(_table("products", "id", "title")))


def test_snowflake_spelling() -> None:
    """Upper-case names (Snowflake's unquoted spelling) are written in lower case."""
    events = _table("RAW_EVENTS", "EVENT_ID", "SENT_AT:TIMESTAMP_NTZ", "USER_ID", "DEVICE_ID",
                    schema="RAW")  # fmt: skip
    s = scaffold.guess(_warehouse(events))
    (source,) = s.var()["idstitch"]["sources"]
    assert source["source"] == "raw.raw_events"
    assert source["identifiers"] == {"user_id": "user_id", "device_id": "device_id"}
    assert source["occurred_at"] == "sent_at"
    assert s.var()["idstitch"]["id_types"][-1] == {
        "name": "device_id", "shared_after": {"user_id": 1}
    }  # fmt: skip


def test_the_macro_lines_are_read() -> None:
    lines = [
        '{"target": {"type": "duckdb", "database": "db", "schema": "idstitch"}, '
        '"schemas": ["idstitch", "raw"]}',
        '{"schema": "idstitch", "table": "rudder_profiles", "skipped": true}',
        '{"schema": "raw", "table": "raw_events", "columns": [["message_id", "VARCHAR"], '
        '["timestamp", "TIMESTAMP"]]}',
    ]
    w = scaffold.read_lines(lines)
    assert w.schemas == ("idstitch", "raw")
    assert w.outputs == ("idstitch.rudder_profiles",)
    assert w.tables == (
        Table("raw", "raw_events", (Column("message_id", "VARCHAR"),
                                    Column("timestamp", "TIMESTAMP"))),
    )  # fmt: skip


def test_a_source_of_another_database_is_another_table() -> None:
    elsewhere = [DeclaredSource("app", "raw_events", "raw", "raw_events", "other_db", "x.yml")]
    s = scaffold.guess(_warehouse(EVENTS), elsewhere)
    assert s.sources[0].ref.source == "raw.raw_events"
    assert [b.source_name for b in s.to_declare] == ["raw"]
