"""Unit tests of the normalization rules and of the reference semantics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from idstitch.config import Config, parse_config
from idstitch.normalize import Blocked, normalize_phone, normalize_value, reject_reason, trim
from idstitch.reference import rudder_id_of, stitch

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
