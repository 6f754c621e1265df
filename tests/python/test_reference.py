"""Unit tests of the normalization rules and of the reference semantics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from erasures import (
    ErasureScenario,
    check_reference,
    erasure_row,
    named_erasure_scenarios,
    random_deletes,
    random_erasures,
    requested_values,
    scan_for_values,
    values_in_result,
    without,
)
from idstitch.config import Config, parse_config
from idstitch.normalize import Blocked, normalize_phone, normalize_value, reject_reason, trim
from idstitch.reference import Result, erasure_hash, normalize_identifier, rudder_id_of, stitch

from conftest import project_var
from streams import random_stream

T0 = datetime(2024, 1, 1)
CONFIG = parse_config(project_var())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+14155550100", "+14155550100"),
        ("(415) 555-0100", "+14155550100"),
        ("415.555.0100", "+14155550100"),
        ("0049 30 1234 5678", "+493012345678"),
        ("+1 415 555 0100", "+14155550100"),
    ],
)
def test_phone_normalization(raw: str, expected: str) -> None:
    assert normalize_phone(trim(raw), "1") == expected


@pytest.mark.parametrize(
    ("rule", "raw", "reason"),
    [
        ("email", " Jane@Example.COM ", None),
        ("email", "not-an-email", "invalid_email"),
        ("email", "a b@c.de", "invalid_email"),
        ("phone", "00000", "invalid_phone"),
        ("phone", "12", "invalid_phone"),
        ("none", "-1", "blocked_value"),
        ("none", "NULL", "blocked_value"),
        ("none", "0000-00", "blocked_value"),
        ("none", "x" * 513, "too_long"),
        ("none", "x" * 512, None),
    ],
)
def test_validation(rule: str, raw: str, reason: str | None) -> None:
    t = trim(raw)
    assert reject_reason(rule, t, normalize_value(rule, t, "1"), [CONFIG.blocked]) == reason


def test_blocked_exact_is_case_insensitive() -> None:
    assert Blocked(frozenset({"anonymous"})).matches("AnonyMous")


def _web(event_id: str, minutes: int, **ids: Any) -> dict[str, Any]:
    return {"message_id": event_id, "timestamp": T0 + timedelta(minutes=minutes), **ids}


def test_merge_keeps_the_older_profile_id() -> None:
    rows = {
        "web_tracks": [
            _web("e1", 5, anonymous_id="a1"),
            _web("e2", 1, anonymous_id="a2", user_id="u2"),
            _web("e3", 9, anonymous_id="a1", user_id="u2"),
        ]
    }
    result = stitch(CONFIG, rows)
    ids = {n: m.rudder_id for n, m in result.mappings.items()}
    # u2 was created first (minute 1, higher priority than a2): its id survives the merge
    assert set(ids.values()) == {rudder_id_of(("user_id", "u2"))}
    assert result.mappings[("anonymous_id", "a1")].event_count == 2


def test_identifier_seen_twice_in_an_event_counts_once() -> None:
    rows = {
        "merge_events": [
            {
                "message_id": "m1",
                "timestamp": T0,
                "merge_type_1": "email",
                "merge_value_1": "A@x.io",
                "merge_type_2": "email",
                "merge_value_2": " a@X.io",
            }
        ]
    }
    result = stitch(CONFIG, rows)
    assert list(result.mappings) == [("email", "a@x.io")]
    assert not result.merge_rules


def test_differing_duplicate_keeps_the_first_in_order() -> None:
    rows = {
        "web_tracks": [
            _web("e1", 9, anonymous_id="late"),
            _web("e1", 2, anonymous_id="early"),
        ]
    }
    result = stitch(CONFIG, rows)
    assert list(result.mappings) == [("anonymous_id", "early")]
    assert list(result.rejected_events) == [
        ("web_tracks", "e1", T0 + timedelta(minutes=9), "duplicate_event_id")
    ]


# --- limits over a period (docs/semantics.md §3b)

DAY = 24 * 60  # minutes


def _limited(**limits: Any) -> Config:
    """The demo configuration with the given `limit` per type (other types keep theirs)."""
    raw = project_var()
    raw["id_types"] = [
        {**t, "limit": limits[t["name"]]} if t["name"] in limits else t for t in raw["id_types"]
    ]
    return parse_config(raw)


def _web_days(event_id: str, days: float, **ids: Any) -> dict[str, Any]:
    return _web(event_id, round(days * DAY), **ids)


def _profile_of(result: Any, node: tuple[str, str]) -> str:
    return str(result.mappings[node].rudder_id)


def _violations(result: Any) -> list[tuple[str, str, str | None]]:
    """(event_id, id_value, limit_type) of every refused union, sorted."""
    return sorted((e, v, lt) for _, e, _, v, _, _, lt in result.limit_violations)


def _weekly_visits() -> dict[str, list[dict[str, Any]]]:
    # one signed-in user, a new anonymous id (a new browser) every eight days
    return {
        "web_tracks": [
            _web_days(f"w{k}", 8 * k, user_id="u1", anonymous_id=f"a{k}") for k in range(4)
        ]
    }


def test_anonymous_ids_spread_over_weeks_merge_under_a_weekly_limit() -> None:
    weekly = stitch(_limited(anonymous_id={"count": 2, "per": "week"}), _weekly_visits())
    assert len({_profile_of(weekly, ("anonymous_id", f"a{k}")) for k in range(4)}) == 1
    assert not weekly.limit_violations
    # the same visits under a plain limit of 2 (ever): the third and fourth ids are refused
    ever = stitch(_limited(anonymous_id=2), _weekly_visits())
    user = _profile_of(ever, ("user_id", "u1"))
    assert [_profile_of(ever, ("anonymous_id", f"a{k}")) == user for k in range(4)] == [
        True,
        True,
        False,
        False,
    ]
    assert _violations(ever) == [("w2", "a2", "anonymous_id"), ("w3", "a3", "anonymous_id")]


def test_an_old_id_seen_again_counts_again() -> None:
    config = _limited(anonymous_id={"count": 2, "per": "week"})
    rows = [
        _web_days("v1", 0, user_id="u1", anonymous_id="a1"),
        _web_days("v2", 10, user_id="u1", anonymous_id="a2"),  # a1 is out of the window
        _web_days("v4", 12, user_id="u1", anonymous_id="a3"),
    ]
    quiet = stitch(config, {"web_tracks": rows})
    assert _profile_of(quiet, ("anonymous_id", "a3")) == _profile_of(quiet, ("user_id", "u1"))
    # a1 is observed again on day 11, alone: back in the window, it blocks a3 on day 12
    back = stitch(config, {"web_tracks": [*rows, _web_days("v3", 11, anonymous_id="a1")]})
    assert back.mappings[("anonymous_id", "a1")].last_seen_at == T0 + timedelta(days=11)
    assert _profile_of(back, ("anonymous_id", "a3")) != _profile_of(back, ("user_id", "u1"))
    assert {(e, lt) for e, _, lt in _violations(back)} == {("v4", "anonymous_id")}


def _pair(event_id: str, days: float, a: tuple[str, str], b: tuple[str, str]) -> dict[str, Any]:
    return {
        "message_id": event_id,
        "timestamp": T0 + timedelta(minutes=round(days * DAY)),
        "merge_type_1": a[0],
        "merge_value_1": a[1],
        "merge_type_2": b[0],
        "merge_value_2": b[1],
    }


def test_two_profiles_within_the_window_may_not_exceed_it_together() -> None:
    config = _limited(anonymous_id={"count": 2, "per": "week"})
    rows: dict[str, list[dict[str, Any]]] = {
        "web_tracks": [
            _web_days("p1", 0, user_id="u1", anonymous_id="a1"),
            _web_days("p2", 1, user_id="u1", anonymous_id="a2"),  # u1: a1, a2 (two: allowed)
            _web_days("q1", 2, context_device_id="d1", anonymous_id="a3"),  # d1: a3
        ],
        "merge_events": [_pair("m1", 3, ("user_id", "u1"), ("device_id", "d1"))],
    }
    result = stitch(config, rows)
    assert _profile_of(result, ("device_id", "d1")) != _profile_of(result, ("user_id", "u1"))
    assert [(e, lt) for e, _, lt in _violations(result)] == [("m1", "anonymous_id")]
    # the same pair three weeks later: a1, a2 and a3 have all left the window
    rows["merge_events"].append(_pair("m2", 24, ("user_id", "u1"), ("device_id", "d1")))
    later = stitch(config, rows)
    assert _profile_of(later, ("device_id", "d1")) == _profile_of(later, ("user_id", "u1"))
    assert len({_profile_of(later, ("anonymous_id", a)) for a in ("a1", "a2", "a3")}) == 1


@pytest.mark.parametrize(("third_after_days", "accepted"), [(400, True), (100, False)])
def test_a_yearly_email_limit(third_after_days: int, accepted: bool) -> None:
    config = _limited(email={"count": 2, "per": "year"})
    rows = {
        "app_events": [
            {"event_id": "y1", "sent_at": T0, "user_id": "u1", "email": "one@example.com"},
            {
                "event_id": "y2",
                "sent_at": T0 + timedelta(days=50),
                "user_id": "u1",
                "email": "two@example.com",
            },
            {
                "event_id": "y3",
                "sent_at": T0 + timedelta(days=third_after_days),
                "user_id": "u1",
                "email": "three@example.com",
            },
        ]
    }
    result = stitch(config, rows)
    third = _profile_of(result, ("email", "three@example.com"))
    assert (third == _profile_of(result, ("user_id", "u1"))) is accepted
    if accepted:  # on day 400 the first email (day 0) is out of the window, the second is in
        assert not result.limit_violations
    else:
        assert [(e, lt) for e, _, lt in _violations(result)] == [("y3", "email")]


def test_a_plain_limit_is_a_limit_per_ever() -> None:
    raw = project_var()  # tight plain limits on every type, so that they bind often
    raw["id_types"] = [{**t, "limit": 1 if t["name"] == "user_id" else 2} for t in raw["id_types"]]
    plain = parse_config(raw)
    raw["id_types"] = [
        {**t, "limit": {"count": t["limit"], "per": "ever"}} for t in raw["id_types"]
    ]
    per_ever = parse_config(raw)
    assert [t.limit_per for t in per_ever.id_types] == ["ever"] * 5
    assert [t.limit for t in per_ever.id_types] == [t.limit for t in plain.id_types]
    stream = random_stream(60, 7, rules=True)
    never = stream.rows.get("never_merge", [])
    expected = stitch(plain, stream.rows, never)
    assert expected.limit_violations  # the limits did bind
    assert stitch(per_ever, stream.rows, never) == expected


# --- erasure (docs/semantics.md §3c)

HASH = "0" * 32  # a well-formed hash of nothing that occurs


def _erasure_run(scenario: ErasureScenario, erasures: Any = None) -> Result:
    stream = scenario.stream
    requests = scenario.erasures if erasures is None else erasures
    return stitch(CONFIG, stream.rows, stream.rows.get("never_merge", []), requests)


@pytest.mark.parametrize("scenario", named_erasure_scenarios(), ids=lambda s: s.name)
def test_named_erasure_scenario(scenario: ErasureScenario) -> None:
    result = _erasure_run(scenario)
    assert check_reference(scenario, result) == []
    assert values_in_result(result, [*scenario.absent, *scenario.absent_hashes]) == []
    # the scenario bites: before the requests (or, for a deletion, before it) some of its
    # expectations did not hold
    before = scenario.runs[0] if scenario.deleted else scenario.stream
    unerased = stitch(CONFIG, before.rows, before.rows.get("never_merge", []))
    assert check_reference(scenario, unerased) != []


def _scenario(name: str) -> ErasureScenario:
    return next(s for s in named_erasure_scenarios() if s.name == name)


def test_forgetting_the_only_link_splits_the_profile() -> None:
    """(a) the email is dropped from both events, which stay, each its own profile."""
    result = _erasure_run(_scenario("forget_joining_email"))
    assert len(result.profiles) == 2
    assert ("email", "er_a@example.com") not in result.mappings
    assert result.rejected_identifiers == {
        ("web_tracks", "er_a_1", "email", None, "erased"),
        ("web_tracks", "er_a_2", "email", None, "erased"),
    }
    assert not result.rejected_events and not result.merge_rules


def test_forgetting_a_profile_removes_every_trace() -> None:
    """(b) nothing of the person stays: nodes, rules, profile, events, traits."""
    result = _erasure_run(_scenario("forget_whole_profile"))
    gone = {"er_b_anon", "er_b_user", "er_b_device", "er_b@example.com", "+12995550101"}
    gone |= {"er_b_new_device"}  # brought later by an event with the person's email
    assert not [n for n in result.mappings if n[1] in gone]
    assert not [k for k in result.merge_rules if k[1] in gone or k[3] in gone]
    assert not [p for p in result.profiles.values() if p.primary_id_value in gone]
    assert not [v for p in result.profiles.values() for v in p.traits.values() if v and "Erb" in v]
    assert not [k for k in result.identified_events if k[1] in {"er_b_1", "er_b_2", "er_b_3"}]
    assert sorted(k[1] for k in result.rejected_events) == [
        "er_b_1",
        "er_b_2",
        "er_b_3",
        "er_b_5",
        "er_b_6",
    ]
    assert not result.limit_violations  # the refused merge went with its event
    # only the person's values leave rows, without their value; the other user id does not
    assert {r[3] for r in result.rejected_identifiers} == {None}
    assert {(r[1], r[2]) for r in result.rejected_identifiers} == {
        ("er_b_1", "anonymous_id"),
        ("er_b_1", "user_id"),
        ("er_b_2", "device_id"),
        ("er_b_2", "user_id"),
        ("er_b_2", "email"),
        ("er_b_2", "phone"),
        ("er_b_3", "email"),
        ("er_b_5", "user_id"),
        ("er_b_6", "device_id"),
        ("er_b_6", "email"),
    }
    other = result.mappings[("user_id", "er_b_other")]
    assert result.profiles[other.rudder_id].traits["first_name"] == "Ann"


def test_identifier_scope_keeps_the_rest_of_the_profile() -> None:
    """The same request with scope identifier drops only the named value."""
    scenario = _scenario("forget_whole_profile")
    request = [erasure_row("r", id_type="device_id", id_value="er_b_device")]
    result = _erasure_run(scenario, request)
    assert ("device_id", "er_b_device") not in result.mappings
    assert result.mappings[("user_id", "er_b_user")].rudder_id == (
        result.mappings[("email", "er_b@example.com")].rudder_id
    )
    assert not [k for k in result.rejected_events if k[3] == "erased"]


def test_erased_value_in_a_later_batch_is_erased_too() -> None:
    """(c) the erasure holds over the later rows: incremental-like growth changes nothing."""
    scenario = _scenario("erased_value_arrives_again")
    for run in scenario.runs:
        result = stitch(CONFIG, run.rows, (), scenario.erasures)
        assert ("user_id", "er_c_user") not in result.mappings
    assert len(result.profiles) == 3


def test_row_deleted_upstream_unlinks() -> None:
    """(d) the reference reads whatever rows exist: the deleted link is simply absent."""
    scenario = _scenario("row_deleted_upstream")
    before = stitch(CONFIG, scenario.runs[0].rows)
    after = stitch(CONFIG, scenario.stream.rows)
    anon, device = ("anonymous_id", "er_d_anon"), ("device_id", "er_d_device")
    assert before.mappings[anon].rudder_id == before.mappings[device].rudder_id
    assert after.mappings[anon].rudder_id != after.mappings[device].rudder_id
    assert ("merge_events", "er_d_3") not in after.identified_events
    assert len(before.profiles) == 1 and len(after.profiles) == 2


@pytest.mark.parametrize("scope", ["identifier", "profile"])
def test_request_by_hash_equals_request_by_value(scope: str) -> None:
    """(e) a hash (any case, spaces around) names the same value as its normalized text."""
    for scenario in named_erasure_scenarios()[:3]:
        value = scenario.erasures[0]
        t = value["id_type"].strip().lower()
        node, _ = normalize_identifier(CONFIG, t, value["id_value"])
        assert node is not None
        by_value = [{**value, "scope": scope}]
        by_hash = [erasure_row("h", id_hash=f" {erasure_hash(*node).upper()} ", scope=scope)]
        assert _erasure_run(scenario, by_value) == _erasure_run(scenario, by_hash)
        assert _erasure_run(scenario, by_value) != _erasure_run(scenario, [])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (erasure_row("bad1", id_type="email"), "neither an id_hash"),
        (erasure_row("bad2", id_type="email", id_value="  ", id_hash=" "), "neither"),
        (erasure_row("bad3", id_type="loyalty", id_value="x"), "unknown id_type `loyalty`"),
        (erasure_row("bad4", id_value="x"), "unknown id_type `None`"),
        (erasure_row("bad5", id_hash=HASH, scope="person"), "unknown scope `person`"),
        (erasure_row("bad6", id_hash="jane@example.com"), "is not 32 hex digits"),
    ],
)
def test_bad_erasure_requests_fail_naming_them(row: dict[str, Any], message: str) -> None:
    """(f) a request that cannot be applied stops the run, never skipped."""
    good = erasure_row("fine", id_hash=HASH, scope=None)
    with pytest.raises(ValueError, match=f"erasure request `{row['erasure_id']}`.*{message}"):
        stitch(CONFIG, {}, (), [good, row])
    with pytest.raises(ValueError, match="has no erasure_id"):
        stitch(CONFIG, {}, (), [good, erasure_row(" ", id_hash=HASH)])


def test_a_hash_given_wins_over_a_value() -> None:
    """A row with both names the value of its hash (the value and its type are not read)."""
    rows = {"web_tracks": [_web("e1", 0, anonymous_id="a1", user_id="u1")]}
    both = erasure_row("r", id_type="loyalty", id_value="a1", id_hash=erasure_hash("user_id", "u1"))
    assert set(stitch(CONFIG, rows, (), [both]).mappings) == {("anonymous_id", "a1")}


def test_erasure_drops_a_value_before_its_checks() -> None:
    """An erased value that is also invalid leaves `erased` without the raw text, and an
    erased side of a never-merge pair drops the pair."""
    rows = {
        "web_tracks": [_web("e1", 0, anonymous_id="a1", context_traits_email=" Jane@Example ")],
        "merge_events": [
            {
                "message_id": "m1",
                "timestamp": T0,
                "merge_type_1": "user_id",
                "merge_value_1": "u1",
                "merge_type_2": "user_id",
                "merge_value_2": "u2",
            }
        ],
    }
    never = [
        {"pair_id": "p1", "id1_type": "user_id", "id1_value": "u1", "id2_type": "user_id",
         "id2_value": "u2"}
    ]  # fmt: skip
    kept = stitch(CONFIG, rows, never)
    assert ("web_tracks", "e1", "email", " Jane@Example ", "invalid_email") in (
        kept.rejected_identifiers
    )
    requests = [
        erasure_row("r1", id_type="email", id_value="jane@example"),
        erasure_row("r2", id_type="user_id", id_value="u2"),
    ]
    result = stitch(CONFIG, rows, never, requests)
    assert result.rejected_identifiers == {
        ("web_tracks", "e1", "email", None, "erased"),
        ("merge_events", "m1", "user_id", None, "erased"),
        ("never_merge", "p1", "user_id", None, "erased"),
    }
    assert set(result.mappings) == {("anonymous_id", "a1"), ("user_id", "u1")}


RANDOM_ERASURE_SEEDS = [3, 11]


@pytest.mark.parametrize("seed", RANDOM_ERASURE_SEEDS)
def test_random_erasures_change_the_result_and_leave_nothing(seed: int) -> None:
    stream = random_stream(60, seed, rules=True)
    never = stream.rows.get("never_merge", [])
    plain = stitch(CONFIG, stream.rows, never)
    requests = random_erasures(stream, seed, 0.15)
    result = stitch(CONFIG, stream.rows, never, requests)
    erased_events = [k for k in result.rejected_events if k[3] == "erased"]
    erased_values = [r for r in result.rejected_identifiers if r[4] == "erased"]
    assert len(erased_events) >= 20, len(erased_events)
    assert len(erased_values) >= 50, len(erased_values)
    assert len(result.identified_events) < len(plain.identified_events)
    # some profile of the plain result lost a link: two of its surviving nodes are apart now
    assert _splits(plain, result) >= 3
    assert {r[3] for r in erased_values} == {None}
    hashes = [r["id_hash"].strip().lower() for r in requests if r["id_hash"]]
    values = requested_values(CONFIG, requests)
    assert values and hashes
    assert values_in_result(result, [*values, *hashes]) == []
    # every requested node is gone
    for node in result.mappings:
        assert erasure_hash(*node) not in {*hashes, *(erasure_hash(*n) for n in _named(requests))}


def _named(requests: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for r in requests:
        if r["id_value"] is not None:
            node, _ = normalize_identifier(CONFIG, r["id_type"].strip().lower(), r["id_value"])
            if node is not None:
                out.append(node)
    return out


def _splits(before: Result, after: Result) -> int:
    """Profiles of `before` whose nodes still in `after` are now in several profiles."""
    by_profile: dict[str, set[str]] = {}
    for node, m in before.mappings.items():
        if node in after.mappings:
            by_profile.setdefault(m.rudder_id, set()).add(after.mappings[node].rudder_id)
    return sum(1 for ids in by_profile.values() if len(ids) > 1)


@pytest.mark.parametrize("seed", RANDOM_ERASURE_SEEDS)
def test_random_deletes_change_the_result(seed: int) -> None:
    stream = random_stream(60, seed, rules=True)
    deletes = random_deletes(stream, seed, 0.1)
    later = without(stream, deletes)
    assert sum(map(len, later.rows.values())) == sum(map(len, stream.rows.values())) - len(deletes)
    before = stitch(CONFIG, stream.rows, stream.rows.get("never_merge", []))
    after = stitch(CONFIG, later.rows, later.rows.get("never_merge", []))
    assert _splits(before, after) >= 3
    gone = set(before.identified_events) - set(after.identified_events)
    assert len(gone) >= 10


def test_scan_for_values_finds_text_anywhere_in_a_schema() -> None:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("create schema s")
        con.execute("create table s.t1 (id integer, v varchar, w text)")
        con.execute("insert into s.t1 values (1, ' Jane@X.io ', 'abc'), (2, 'other', 'ABC123')")
        con.execute("create table s.t2 (h varchar, n integer)")
        con.execute("insert into s.t2 values ('0123abcd', 7)")
        con.execute("create table s.skipped (v varchar)")
        con.execute("insert into s.skipped values ('jane@x.io')")
        con.execute("create table main.elsewhere (v varchar)")
        con.execute("insert into main.elsewhere values ('jane@x.io')")
        found = scan_for_values(
            con, "s", ["jane@x.io", "missing"], ["0123ABCD"], exclude_tables=["SKIPPED"]
        )
        assert sorted(found) == [("t1", "v", " Jane@X.io "), ("t2", "h", "0123abcd")]
        assert scan_for_values(con, "s", [], []) == []
        # a query function works as well as a connection
        rows = scan_for_values(lambda sql: con.execute(sql).fetchall(), "s", ["abc123"])
        assert rows == [("t1", "w", "ABC123")]
    finally:
        con.close()
