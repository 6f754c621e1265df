"""The demo journeys come out as the README describes them."""

from __future__ import annotations

from idstitch.reference import rudder_id_of, stitch
from idstitch.runner import PROJECT_DIR
from idstitch.summary import read_summary, read_summary_through

from conftest import Build
from warehouse import connect, csv_rows, diff_results, query, read_result, rudder_ids


def test_shopper_on_two_devices_is_one_profile(demo_build: Build) -> None:
    rudder = rudder_ids(demo_build.path)
    jane = {
        ("anonymous_id", "anon-7c1e"),
        ("anonymous_id", "anon-d94a"),
        ("device_id", "web-dev-1"),
        ("device_id", "web-dev-2"),
        ("email", "jane.doe@example.com"),
        ("user_id", "u_1001"),
        ("phone", "+16505550123"),  # from the CRM (strict strategy, accepted)
        # a browser of two weeks later: her first two ids are out of the week's window
        ("anonymous_id", "anon-f6f6"),
    }
    assert {rudder[n] for n in jane} == {rudder_id_of(("anonymous_id", "anon-7c1e"))}
    assert sum(1 for r in rudder.values() if r == rudder[("user_id", "u_1001")]) == len(jane)
    # a third browser within the week of the first two: refused (2 anonymous ids per week)
    assert rudder[("anonymous_id", "anon-e5e5")] != rudder[("user_id", "u_1001")]


def test_lead_list_stitched_to_app_signups(demo_build: Build) -> None:
    rudder = rudder_ids(demo_build.path)
    # ' Priya@Northwind.COM ' in the app is the lead list's priya@northwind.com
    priya = {
        ("email", "priya@northwind.com"),
        ("phone", "+14155550100"),
        ("user_id", "u_2002"),
        ("device_id", "ios-7f2a"),
        ("anonymous_id", "anon-p1"),
    }
    assert {rudder[n] for n in priya} == {rudder_id_of(("email", "priya@northwind.com"))}
    # '(415) 555-0199' in the app is the lead list's 415.555.0199
    marcus = {
        ("email", "marcus.lee@contoso.com"),
        ("phone", "+14155550199"),
        ("user_id", "u_2003"),
        ("device_id", "and-91bc"),
    }
    assert {rudder[n] for n in marcus} == {rudder_id_of(("email", "marcus.lee@contoso.com"))}
    # leads that never signed up are profiles of their own
    assert ("email", "ana.silva@fabrikam.org") in rudder
    assert ("phone", "+493012345678") in rudder


def test_placeholders_are_rejected_and_never_merge(demo_build: Build) -> None:
    rudder = rudder_ids(demo_build.path)
    for value in ["-1", "null", "anonymous", "00000", "undefined", "NONE", "0"]:
        assert not any(v.lower() == value.lower() for (_, v) in rudder), value
    # two shoppers whose user id is the placeholder -1 stay apart
    assert rudder[("anonymous_id", "anon-3b20")] != rudder[("anonymous_id", "anon-88f1")]
    con = connect(demo_build.path)
    try:
        blocked = query(
            con,
            """
            select source, event_id, id_type, raw_value from idstitch_rejected_identifiers
            where reason = 'blocked_value' and raw_value = '-1' order by all""",
        )
        events = dict(query(con, "select event_id, reason from idstitch_rejected_events"))
    finally:
        con.close()
    assert ("web_tracks", "w005", "user_id", "-1") in blocked
    assert events["w007"] == "no_valid_identifier"  # only placeholders: nothing to identify
    assert events["w009"] == "missing_occurred_at"
    assert events[None] == "missing_event_id"


def test_merge_event_pairs(demo_build: Build) -> None:
    rudder = rudder_ids(demo_build.path)
    assert rudder[("anonymous_id", "anon-p1")] == rudder[("device_id", "ios-7f2a")]
    con = connect(demo_build.path)
    try:
        unknown = query(
            con,
            """
            select id_type, raw_value from idstitch_rejected_identifiers
            where reason = 'unknown_type'""",
        )
    finally:
        con.close()
    assert unknown == [("loyalty_card", "LC-0042")]


def test_demo_equals_reference(demo_build: Build) -> None:
    seeds = PROJECT_DIR / "seeds"
    rows: dict[str, list[dict[str, object]]] = {}
    for source in demo_build.config.sources:
        assert source.source is not None
        table = source.source.split(".")[1]
        rows[source.name] = csv_rows(seeds / "demo" / f"{table}.csv", source.occurred_at)
    rows["manual_merges"] = csv_rows(seeds / "demo" / "raw_manual_merges.csv", "merged_at")
    never = csv_rows(seeds / "demo" / "raw_never_merge.csv")
    expected = stitch(demo_build.config, rows, never)
    con = connect(demo_build.path)
    try:
        actual = read_result(con, demo_build.config)
    finally:
        con.close()
    assert not diff_results(expected, actual), diff_results(expected, actual)


def test_summary_through_the_adapter_equals_the_file(demo_build: Build) -> None:
    """The summary read through dbt's DuckDB adapter (as on any warehouse) is the one read
    from the file directly."""
    assert read_summary_through(demo_build.project) == read_summary(demo_build.path)


def test_summary_counts(demo_build: Build) -> None:
    s = read_summary(demo_build.path)
    assert (
        s.identified_events
        + sum(n for r, n in s.rejected_events.items() if r != "duplicate_event_id")
        == s.events
    )
    assert s.profiles == 18 and s.iterations >= 1
    assert s.full_refresh and s.new_copies >= s.events and s.id_changes == 0
    assert s.limit_violations == {"limit_exceeded": 2, "never_merge": 1}
    # what the limits refused: a second user id for the family email, a third browser in a week
    assert s.limit_types == {"user_id": 1, "anonymous_id": 1}
    assert s.skipped_aliases == {"owned_by_other_profile": 1}
    assert s.rejected_events["multiple_profiles_matched"] == 1
    assert s.rejected_identifiers["blocked_value"] >= 5


def test_rules_in_the_demo(demo_build: Build) -> None:
    rudder = rudder_ids(demo_build.path)
    # a family tablet, signed into by two people, is shared: a profile of its own
    tablet = rudder[("device_id", "web-fam-tablet")]
    assert tablet not in (rudder[("user_id", "u_5001")], rudder[("user_id", "u_5002")])
    assert rudder[("user_id", "u_5002")] != rudder[("user_id", "u_5001")]
    assert rudder[("anonymous_id", "anon-f2b2")] == rudder[("user_id", "u_5002")]
    # a family email used by two people: the second may not join the first's profile
    assert rudder[("email", "home@lee-family.net")] == rudder[("user_id", "u_6001")]
    assert rudder[("user_id", "u_6002")] != rudder[("user_id", "u_6001")]
    # never-merge: Marcus's app account adds an address of another M. Lee, refused
    assert rudder[("email", "m.lee@contoso.com")] != rudder[("user_id", "u_2003")]
    con = connect(demo_build.path)
    try:
        violations = set(
            query(
                con,
                """
            select event_id, id_type, id_value, reason, limit_type
            from idstitch_limit_violations""",
            )
        )
        skipped = query(con, "select event_id, id_value, reason from idstitch_skipped_aliases")
        rejected = dict(query(con, "select event_id, reason from idstitch_rejected_events"))
    finally:
        con.close()
    assert violations == {
        ("w016", "email", "home@lee-family.net", "limit_exceeded", "user_id"),
        ("a007", "email", "m.lee@contoso.com", "never_merge", None),
        ("w017", "anonymous_id", "anon-e5e5", "limit_exceeded", "anonymous_id"),
    }
    # the CRM's strict update names Priya's email and Jane's phone: rejected, nothing changed
    assert rejected["crm-02"] == "multiple_profiles_matched"
    # Marcus's CRM record lists Priya's number as his mobile (an alias): skipped and reported
    assert skipped == [("crm-03", "+14155550100", "owned_by_other_profile")]

    con = connect(demo_build.path)
    try:
        shared = query(con, "select * from idstitch_shared_identifiers")
        flagged = query(
            con, "select id_type, id_value from rudder_identity_mappings where is_shared"
        )
    finally:
        con.close()
    assert shared == [("device_id", "web-fam-tablet", "user_id", 2)]
    assert flagged == [("device_id", "web-fam-tablet")]


def test_rule_seeds_ship_empty() -> None:
    """The project's rule seeds hold a header and no row: rules belong to the user, and the
    demo's live in its own raw tables, which only the demo's var names."""
    for name in ("idstitch_manual_merges", "idstitch_never_merge"):
        lines = (PROJECT_DIR / "seeds" / f"{name}.csv").read_text().splitlines()
        assert len(lines) == 1 and lines[0].startswith(("merge_id,", "pair_id,")), name
