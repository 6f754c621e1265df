"""explain: chains of evidence on the demo journeys, and the reasons profiles stay apart."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from idstitch.cli import main
from idstitch.explain import ExplainError, explain, parse_identifier

from conftest import Build
from warehouse import connect, query


def test_identifiers_are_normalized_like_the_pipeline(demo_build: Build) -> None:
    config = demo_build.config
    assert parse_identifier("email: Jane.Doe@Example.COM ", config) == (
        "email",
        "jane.doe@example.com",
    )
    assert parse_identifier("phone:(415) 555-0199", config) == ("phone", "+14155550199")
    with pytest.raises(ExplainError, match="configured types are"):
        parse_identifier("loyalty_card:1", config)
    with pytest.raises(ExplainError, match="TYPE:VALUE"):
        parse_identifier("jane", config)


def test_jane_email_to_second_device_is_a_chain_of_two_events(demo_build: Build) -> None:
    e = explain(
        demo_build.path, "email:jane.doe@example.com", "device_id:web-dev-2", demo_build.config
    )
    assert e.same_profile
    chain = [(h.a, h.b) for h in e.path]
    assert chain[0][0] == ("email", "jane.doe@example.com")
    assert chain[-1][1] == ("device_id", "web-dev-2")
    assert all(chain[i][1] == chain[i + 1][0] for i in range(len(chain) - 1))
    # each hop's event really carried both identifiers, and it is the first such event
    con = connect(demo_build.path)
    try:
        for hop in e.path:
            carried = query(
                con,
                """select o.id_type, o.id_value from int_idstitch__observation_index o
                   where o.source = ? and o.event_id = ?""".replace("?", "'{}'").format(
                    hop.source, hop.event_id
                ),
            )
            assert hop.a in carried and hop.b in carried
            assert hop.events >= 1 and hop.occurred_at is not None
    finally:
        con.close()
    assert len(e.path) == 2  # email -> user id (sign-in) -> second device (later sign-in)


def test_placeholder_user_id_does_not_join_two_shoppers(demo_build: Build) -> None:
    e = explain(
        demo_build.path, "anonymous_id:anon-3b20", "anonymous_id:anon-88f1", demo_build.config
    )
    assert not e.same_profile
    assert any("user_id `-1`" in r and "blocked_value" in r for r in e.reasons)
    assert any("no merge rule joins them" in r for r in e.reasons)


def test_a_rejected_value_is_explained(demo_build: Build) -> None:
    e = explain(demo_build.path, "user_id:-1", "email:jane.doe@example.com", demo_build.config)
    assert e.a.rudder_id is None and dict(e.a.rejected).get("blocked_value", 0) >= 2
    assert any("rejected" in r for r in e.reasons)


@pytest.mark.parametrize(
    ("first", "second", "code"),
    [
        ("email: Jane.Doe@Example.COM ", "device_id:web-dev-2", 0),
        ("anonymous_id:anon-3b20", "anonymous_id:anon-88f1", 1),
    ],
)
def test_the_adapter_path_explains_alike(
    demo_build: Build, first: str, second: str, code: int
) -> None:
    """`--target duckdb` reads through dbt's DuckDB adapter, with the query text every target
    gets: the same explanation as the file's."""
    args = ["explain", first, second, "--json", "--duckdb", str(demo_build.path)]
    direct = CliRunner().invoke(main, args)
    through = CliRunner().invoke(main, [*args, "--target", "duckdb"])
    assert direct.exit_code == through.exit_code == code, through.output
    assert json.loads(through.stdout) == json.loads(direct.stdout)
