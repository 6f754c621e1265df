"""explain: chains of evidence on the demo journeys, and the reasons profiles stay apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from idstitch.cli import main
from idstitch.config import parse_config
from idstitch.explain import ExplainError, explain, parse_identifier
from idstitch.reference import stitch
from idstitch.runner import DbtProject
from rules import config as rules_config

from conftest import Build
from streams import Stream, at
from warehouse import connect, query, write_raw


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


# --- a union refused by a limit over a period (docs/semantics.md §3b)

DAY = 60 * 24  # minutes, for at()


def _plain_limits(anonymous: Any) -> dict[str, Any]:
    """Build A of the rule scenarios with its limits for ever, anonymous ids limited as given."""
    raw = rules_config("A")
    raw["id_types"] = [
        {**t, "limit": anonymous if t["name"] == "anonymous_id" else t["limit"]["count"]}
        if isinstance(t.get("limit"), dict)
        else t
        for t in raw["id_types"]
    ]
    return raw


def test_a_refusal_over_a_period_names_the_values_in_the_window(tmp_path: Path) -> None:
    # u has a0 (day 0), a1 (day 20), a2 (day 21); d has a3 (day 22); a pair joins u and d on
    # day 23. Under `{count: 2, per: week}` a0 is out of the window, a1-a3 are in: refused.
    s = Stream()
    for k, (day, ids) in enumerate(
        [(0, {"user_id": "x_ex_u"}), (20, {"user_id": "x_ex_u"}), (21, {"user_id": "x_ex_u"})]
        + [(22, {"context_device_id": "x_ex_d"})]
    ):
        s.add(
            "web_tracks",
            message_id=f"x_ex_{k}",
            timestamp=at(DAY * day),
            anonymous_id=f"x_ex_a{k}",
            **ids,
        )
    s.add(
        "merge_events",
        message_id="x_ex_pair",
        timestamp=at(DAY * 23),
        merge_type_1="user_id",
        merge_value_1="x_ex_u",
        merge_type_2="device_id",
        merge_value_2="x_ex_d",
    )
    weekly = parse_config(_plain_limits({"count": 2, "per": "week"}))
    # the SQL of this branch counts every value (a plain limit); a plain limit of 3 gives the
    # very marts the weekly limit of 2 gives, so this build stands for a build under it
    built = _plain_limits(3)
    assert stitch(parse_config(built), s.rows) == stitch(weekly, s.rows)
    path = tmp_path / "period.duckdb"
    write_raw(path, s)
    DbtProject(duckdb_path=path, vars={"idstitch": built}).invoke(
        ["build", "--exclude", "resource_type:seed"]
    )

    e = explain(path, "user_id:x_ex_u", "device_id:x_ex_d", weekly)
    assert not e.same_profile
    why = [r for r in e.reasons if "per week" in r]
    assert len(why) == 1, e.reasons
    assert "anonymous_id is limited to 2 per week" in why[0]
    assert "merge_events/x_ex_pair would have put 3 anonymous_id values" in why[0]
    listed = why[0].split("one profile: ")[1]
    assert [v for v in ("x_ex_a0", "x_ex_a1", "x_ex_a2", "x_ex_a3") if v in listed] == [
        "x_ex_a1",
        "x_ex_a2",
        "x_ex_a3",
    ]
    # under a limit for ever the explanation names no period
    plain = explain(path, "user_id:x_ex_u", "device_id:x_ex_d", parse_config(built))
    assert not [r for r in plain.reasons if "per " in r and "limited to" in r]
