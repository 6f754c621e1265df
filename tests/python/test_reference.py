"""Unit tests of the normalization rules and of the reference semantics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from idstitch.config import parse_config
from idstitch.normalize import Blocked, normalize_phone, normalize_value, reject_reason, trim
from idstitch.reference import rudder_id_of, stitch

from conftest import project_var

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
