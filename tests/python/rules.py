"""Configurations and named scenarios for the resolution rules (limits, strategies, aliases)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from streams import LOADED_AT, Stream, at, random_stream

BLOCKED = {
    "exact": ["-1", "null", "none", "undefined", "nan", "anonymous", "0", "unknown"],
    "patterns": ["^[0-]*$"],
}
# one limit of each kind: ever (a plain number) and each period (docs/semantics.md §3b)
ID_TYPES = [
    {"name": "user_id", "limit": 1},
    {"name": "email", "normalize": "email", "limit": {"count": 2, "per": "year"}},
    {"name": "phone", "normalize": "phone", "limit": {"count": 2, "per": "day"}},
    {"name": "anonymous_id", "limit": {"count": 2, "per": "week"}},
    {"name": "device_id", "normalize": "lower", "limit": {"count": 3, "per": "month"}},
]


def _source(
    name: str, table: str, event_id: str, occurred_at: str, strategy: str, **parts: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "source": f"demo.{table}",
        "event_id": event_id,
        "occurred_at": occurred_at,
        "strategy": strategy,
        **parts,
    }


MERGE_PAIRS = _source(
    "merge_events",
    "raw_merge_events",
    "message_id",
    "timestamp",
    "merge",
    pairs=[
        {"type": "merge_type_1", "value": "merge_value_1"},
        {"type": "merge_type_2", "value": "merge_value_2"},
    ],
)

# the rules' rows live in raw tables beside the events, as the demo keeps its own
RULE_RELATIONS: dict[str, Any] = {
    "manual_merges": {"source": "demo.raw_manual_merges"},
    "never_merge": {"source": "demo.raw_never_merge"},
}

# Build A: merge with an alias, first_alias with an alias, merge pairs, strict leads.
CONFIG_A: dict[str, Any] = {
    "id_types": ID_TYPES,
    "blocked_values": BLOCKED,
    **RULE_RELATIONS,
    "sources": [
        _source(
            "web_tracks",
            "raw_web_tracks",
            "message_id",
            "timestamp",
            "merge",
            identifiers={
                "anonymous_id": "anonymous_id",
                "user_id": "user_id",
                "context_device_id": "device_id",
            },
            aliases={"context_traits_email": "email"},
            traits=["first_name"],
        ),
        _source(
            "app_events",
            "raw_app_events",
            "event_id",
            "sent_at",
            "first_alias",
            identifiers={"device_id": "device_id", "user_id": "user_id", "email": "email"},
            aliases={"phone": "phone"},
            traits=["last_name"],
        ),
        MERGE_PAIRS,
        _source(
            "webinar_leads",
            "raw_webinar_leads",
            "lead_id",
            "registered_at",
            "strict",
            identifiers={"email": "email", "phone": "phone"},
            traits=["first_name"],
        ),
    ],
}

# Build B: first, strict with every app identifier, merge pairs, first_alias leads with an alias.
CONFIG_B: dict[str, Any] = {
    "id_types": ID_TYPES,
    "blocked_values": BLOCKED,
    **RULE_RELATIONS,
    "sources": [
        _source(
            "web_tracks",
            "raw_web_tracks",
            "message_id",
            "timestamp",
            "first",
            identifiers={
                "anonymous_id": "anonymous_id",
                "user_id": "user_id",
                "context_traits_email": "email",
                "context_device_id": "device_id",
            },
        ),
        _source(
            "app_events",
            "raw_app_events",
            "event_id",
            "sent_at",
            "strict",
            identifiers={
                "device_id": "device_id",
                "user_id": "user_id",
                "email": "email",
                "phone": "phone",
            },
            traits=["last_name"],
        ),
        MERGE_PAIRS,
        _source(
            "webinar_leads",
            "raw_webinar_leads",
            "lead_id",
            "registered_at",
            "first_alias",
            identifiers={"email": "email"},
            aliases={"phone": "phone"},
            traits=["company"],
        ),
    ],
}


def config(variant: str) -> dict[str, Any]:
    raw = copy.deepcopy(CONFIG_A if variant == "A" else CONFIG_B)
    if variant == "B":  # build B also has shared devices (docs/semantics.md §3a)
        raw["id_types"] = [
            {**t, "shared_after": {"user_id": 1}} if t["name"] == "device_id" else t
            for t in raw["id_types"]
        ]
        # and tighter limits over a period, so that more of them bind and lapse
        tighter = {
            "anonymous_id": {"count": 1, "per": "week"},
            "device_id": {"count": 2, "per": "month"},
        }
        raw["id_types"] = [
            {**t, "limit": tighter[t["name"]]} if t["name"] in tighter else t
            for t in raw["id_types"]
        ]
    return raw


def by_load_time(
    raw: dict[str, Any], sources: tuple[str, ...] = ("web_tracks", "app_events")
) -> dict[str, Any]:
    """A copy of the var `raw` whose `sources` find new rows by their load time (LOADED_AT)."""
    raw = copy.deepcopy(raw)
    for source in raw["sources"]:
        if source["name"] in sources:
            source["loaded_at"] = LOADED_AT
    return raw


@dataclass
class RuleScenario:
    """A named case: its stream, and checks on the marts (beside SQL == reference)."""

    name: str
    variant: str
    stream: Stream
    # node -> the node it must share a profile with (or None: a profile of its own)
    together: list[tuple[tuple[str, str], tuple[str, str]]] = field(default_factory=list)
    apart: list[tuple[tuple[str, str], tuple[str, str]]] = field(default_factory=list)
    absent: list[tuple[str, str]] = field(default_factory=list)  # never became nodes
    violations: int | None = None  # rows in idstitch_limit_violations
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (id_value, reason)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (event_id, reason)
    shared: list[tuple[str, str]] = field(default_factory=list)  # shared values
    largest_profile: int | None = None  # nodes in the scenario's largest profile
    # (event_id, id_value, limit_type) rows of idstitch_limit_violations
    limit_types: list[tuple[str, str, str]] = field(default_factory=list)


def rule_scenarios() -> list[RuleScenario]:
    out: list[RuleScenario] = []

    s = Stream()
    s.add(
        "merge_events",
        message_id="x_lim_1",
        timestamp=at(0),
        merge_type_1="user_id",
        merge_value_1="x_abc123",
        merge_type_2="email",
        merge_value_2="x_jane@example.com",
    )
    s.add(
        "merge_events",
        message_id="x_lim_2",
        timestamp=at(1),
        merge_type_1="user_id",
        merge_value_1="x_abc456",
        merge_type_2="email",
        merge_value_2="x_jane@example.com",
    )
    out.append(
        RuleScenario(
            "limit_user_id",
            "A",
            s,
            together=[(("email", "x_jane@example.com"), ("user_id", "x_abc123"))],
            apart=[(("user_id", "x_abc456"), ("user_id", "x_abc123"))],
            violations=1,
        )
    )

    # anonymous_id: 2 a week. Three ids a week or more apart never crowd a window: they merge
    # (the component needs no ordered pass). Seen again on day 11, the first id is back in the
    # window when the third arrives on day 12: that union is refused.
    crowds = (
        ("window_spread", "wspread", (0, 10, 20), None),
        ("window_crowded", "wcrowd", (0, 10, 11, 12), "a3"),
    )
    for name, tag, days, refused in crowds:
        s = Stream()
        values = ["a1", "a2", "a1", "a3"] if refused else ["a1", "a2", "a3"]
        for k, (day, anon) in enumerate(zip(days, values, strict=True)):
            s.add(
                "merge_events",
                message_id=f"x_{tag}_{k}",
                timestamp=at(day * 1440),
                merge_type_1="user_id",
                merge_value_1=f"x_{tag}_u",
                merge_type_2="anonymous_id",
                merge_value_2=f"x_{tag}_{anon}",
            )
        user = ("user_id", f"x_{tag}_u")
        out.append(
            RuleScenario(
                name,
                "A",
                s,
                together=[(("anonymous_id", f"x_{tag}_{a}"), user) for a in values if a != refused],
                apart=[(("anonymous_id", f"x_{tag}_{refused}"), user)] if refused else [],
                violations=1 if refused else 0,
                limit_types=(
                    [(f"x_{tag}_3", f"x_{tag}_{refused}", "anonymous_id")] if refused else []
                ),
            )
        )

    s = Stream()
    s.add("webinar_leads", lead_id="x_strict_1", registered_at=at(0), email="x_a@example.com")
    s.add("webinar_leads", lead_id="x_strict_2", registered_at=at(1), phone="+12025550101")
    s.add(
        "webinar_leads",
        lead_id="x_strict_3",
        registered_at=at(2),
        email="x_a@example.com",
        phone="+12025550101",
    )
    out.append(
        RuleScenario(
            "strict_two_contacts",
            "A",
            s,
            apart=[(("email", "x_a@example.com"), ("phone", "+12025550101"))],
            rejected=[("x_strict_3", "multiple_profiles_matched")],
        )
    )

    s = Stream()
    s.add("app_events", event_id="x_enrich_1", sent_at=at(0), email="x_e@example.com")
    s.add(
        "app_events",
        event_id="x_enrich_2",
        sent_at=at(1),
        email="x_e@example.com",
        phone="+12025550102",
    )
    s.add(
        "app_events",
        event_id="x_enrich_3",
        sent_at=at(2),
        email="x_e@example.com",
        device_id="x_card_77",
    )
    s.add(
        "app_events",
        event_id="x_enrich_3",
        sent_at=at(2),
        email="x_e@example.com",
        device_id="x_card_77",
    )  # re-sent: changes nothing
    out.append(
        RuleScenario(
            "first_alias_enrichment",
            "A",
            s,
            together=[
                (("email", "x_e@example.com"), ("phone", "+12025550102")),
                (("email", "x_e@example.com"), ("device_id", "x_card_77")),
            ],
        )
    )

    s = Stream()
    s.add(
        "app_events",
        event_id="x_own_1",
        sent_at=at(0),
        email="x_o1@example.com",
        phone="+12025550103",
    )
    s.add(
        "app_events",
        event_id="x_own_2",
        sent_at=at(1),
        email="x_o2@example.com",
        phone="+12025550103",
    )
    out.append(
        RuleScenario(
            "alias_owned_by_other",
            "A",
            s,
            together=[(("email", "x_o1@example.com"), ("phone", "+12025550103"))],
            apart=[(("email", "x_o2@example.com"), ("phone", "+12025550103"))],
            skipped=[("+12025550103", "owned_by_other_profile")],
        )
    )

    s = Stream()
    for k in range(50):
        s.add(
            "web_tracks",
            message_id=f"x_shared_{k}",
            timestamp=at(k),
            user_id=f"x_person_{k}",
            context_device_id="x_family_tablet",
        )
    out.append(
        RuleScenario(
            "shared_device_50_people",
            "A",
            s,
            together=[(("device_id", "x_family_tablet"), ("user_id", "x_person_0"))],
            apart=[(("user_id", f"x_person_{k}"), ("user_id", "x_person_0")) for k in range(1, 50)],
            violations=49,
        )
    )

    s = Stream()
    for k in range(10_000):
        s.add(
            "web_tracks",
            message_id=f"x_ph_{k}",
            timestamp=at(k % 50),
            user_id="-1" if k % 2 else "anonymous",
            anonymous_id=f"x_visitor_{k}",
        )
    out.append(
        RuleScenario(
            "placeholder_hub",
            "A",
            s,
            apart=[
                (("anonymous_id", "x_visitor_0"), ("anonymous_id", f"x_visitor_{k}"))
                for k in range(1, 10_000, 97)
            ],
            absent=[("user_id", "-1"), ("user_id", "anonymous")],
        )
    )

    s = Stream()
    s.add("web_tracks", message_id="x_first_1", timestamp=at(0), anonymous_id="x_f_anon")
    s.add(
        "web_tracks",
        message_id="x_first_2",
        timestamp=at(1),
        anonymous_id="x_f_anon",
        user_id="x_f_user",
    )
    out.append(RuleScenario("first_ignores_the_rest", "B", s, absent=[("user_id", "x_f_user")]))

    s = Stream()
    s.add(
        "manual_merges",
        merge_id="x_mm_1",
        merged_at=at(5),
        id1_type="user_id",
        id1_value="x_m_u1",
        id2_type="user_id",
        id2_value="x_m_u2",
    )
    s.add(
        "merge_events",
        message_id="x_mm_e1",
        timestamp=at(0),
        merge_type_1="user_id",
        merge_value_1="x_m_u1",
        merge_type_2="anonymous_id",
        merge_value_2="x_m_a1",
    )
    s.add(
        "merge_events",
        message_id="x_mm_e2",
        timestamp=at(1),
        merge_type_1="user_id",
        merge_value_1="x_m_u2",
        merge_type_2="anonymous_id",
        merge_value_2="x_m_a2",
    )
    s.add(
        "never_merge",
        pair_id="x_nm_1",
        id1_type="anonymous_id",
        id1_value="x_m_a3",
        id2_type="user_id",
        id2_value="x_m_u1",
    )
    s.add(
        "merge_events",
        message_id="x_mm_e3",
        timestamp=at(9),
        merge_type_1="user_id",
        merge_value_1="x_m_u2",
        merge_type_2="anonymous_id",
        merge_value_2="x_m_a3",
    )
    out.append(
        RuleScenario(
            "manual_merge_and_never_merge",
            "A",
            s,
            together=[
                (("user_id", "x_m_u1"), ("user_id", "x_m_u2")),
                (("anonymous_id", "x_m_a1"), ("anonymous_id", "x_m_a2")),
            ],
            apart=[(("anonymous_id", "x_m_a3"), ("user_id", "x_m_u1"))],
            violations=1,
        )
    )
    out.extend(_period_scenarios())
    return out


DAY = 60 * 24  # minutes, for at()


def _pair(s: Stream, event_id: str, day: float, a: tuple[str, str], b: tuple[str, str]) -> None:
    s.add(
        "merge_events",
        message_id=event_id,
        timestamp=at(DAY * day),
        merge_type_1=a[0],
        merge_value_1=a[1],
        merge_type_2=b[0],
        merge_value_2=b[1],
    )


def _period_scenarios() -> list[RuleScenario]:
    """Limits over a period (docs/semantics.md §3b), under ID_TYPES: anonymous_id 2 a week,
    email 2 a year. Each expectation was checked with idstitch.reference."""
    out: list[RuleScenario] = []

    # a user with a new anonymous id every eight days: never more than two in one week, so all
    # merge (a plain limit of 2 would refuse the third); a second user with three in one week
    s = Stream()
    for k in range(4):
        s.add(
            "web_tracks",
            message_id=f"x_wweek_{k}",
            timestamp=at(DAY * 8 * k),
            user_id="x_wweek_u",
            anonymous_id=f"x_wweek_a{k}",
        )
    for k in range(3):
        s.add(
            "web_tracks",
            message_id=f"x_wweek_v{k}",
            timestamp=at(DAY * k),
            user_id="x_wweek_v",
            anonymous_id=f"x_wweek_b{k}",
        )
    out.append(
        RuleScenario(
            "period_ids_spread_over_weeks",
            "A",
            s,
            together=[
                (("anonymous_id", f"x_wweek_a{k}"), ("user_id", "x_wweek_u")) for k in range(4)
            ]
            + [(("anonymous_id", "x_wweek_b1"), ("user_id", "x_wweek_v"))],
            apart=[(("anonymous_id", "x_wweek_b2"), ("user_id", "x_wweek_v"))],
            violations=1,
            limit_types=[("x_wweek_v2", "x_wweek_b2", "anonymous_id")],
        )
    )

    # an old id observed again re-enters the window: a1 (day 0) is out of the window on day 10,
    # seen alone on day 11, and so blocks a third id on day 12; user w's a1 is not seen again
    s = Stream()
    for user in ("u", "w"):
        for event, day, anon in (("1", 0, "a1"), ("2", 10, "a2"), ("4", 12, "a3")):
            s.add(
                "web_tracks",
                message_id=f"x_wback_{user}{event}",
                timestamp=at(DAY * day),
                user_id=f"x_wback_{user}",
                anonymous_id=f"x_wback_{user}_{anon}",
            )
    s.add(
        "web_tracks", message_id="x_wback_u3", timestamp=at(DAY * 11), anonymous_id="x_wback_u_a1"
    )
    out.append(
        RuleScenario(
            "period_old_id_seen_again",
            "A",
            s,
            together=[
                (("anonymous_id", "x_wback_u_a1"), ("user_id", "x_wback_u")),
                (("anonymous_id", "x_wback_u_a2"), ("user_id", "x_wback_u")),
                (("anonymous_id", "x_wback_w_a3"), ("user_id", "x_wback_w")),
            ],
            apart=[(("anonymous_id", "x_wback_u_a3"), ("user_id", "x_wback_u"))],
            violations=1,
            limit_types=[("x_wback_u4", "x_wback_u_a3", "anonymous_id")],
        )
    )

    # two profiles, each with anonymous ids within the limit, together over it: refused while
    # all three are in the window (day 3); the same pair for other profiles on day 24 applies
    s = Stream()
    for tag, pair_day in (("p", 3), ("q", 24)):
        for event, day, ids in (
            ("1", 0, {"user_id": f"x_wunion_{tag}u"}),
            ("2", 1, {"user_id": f"x_wunion_{tag}u"}),
            ("3", 2, {"context_device_id": f"x_wunion_{tag}d"}),
        ):
            s.add(
                "web_tracks",
                message_id=f"x_wunion_{tag}{event}",
                timestamp=at(DAY * day),
                anonymous_id=f"x_wunion_{tag}_a{event}",
                **ids,
            )
        _pair(
            s,
            f"x_wunion_{tag}4",
            pair_day,
            ("user_id", f"x_wunion_{tag}u"),
            ("device_id", f"x_wunion_{tag}d"),
        )
    out.append(
        RuleScenario(
            "period_union_over_the_window",
            "A",
            s,
            together=[
                (("anonymous_id", "x_wunion_p_a2"), ("user_id", "x_wunion_pu")),
                (("anonymous_id", "x_wunion_p_a3"), ("device_id", "x_wunion_pd")),
                (("device_id", "x_wunion_qd"), ("user_id", "x_wunion_qu")),
            ],
            apart=[(("device_id", "x_wunion_pd"), ("user_id", "x_wunion_pu"))],
            violations=1,
            limit_types=[("x_wunion_p4", "x_wunion_pd", "anonymous_id")],
        )
    )

    # a yearly email limit of 2: emails on days 0 and 50, then a third on day 100 (refused, the
    # first two are in the window) or on day 400 (accepted: the first is out of it)
    s = Stream()
    for tag, third in (("r", 100), ("k", 400)):
        for event, day in (("1", 0), ("2", 50), ("3", third)):
            _pair(
                s,
                f"x_wyear_{tag}{event}",
                day,
                ("user_id", f"x_wyear_{tag}"),
                ("email", f"x_wyear_{tag}{event}@example.com"),
            )
    out.append(
        RuleScenario(
            "period_yearly_email",
            "A",
            s,
            together=[
                (("email", "x_wyear_r2@example.com"), ("user_id", "x_wyear_r")),
                (("email", "x_wyear_k3@example.com"), ("user_id", "x_wyear_k")),
            ],
            apart=[(("email", "x_wyear_r3@example.com"), ("user_id", "x_wyear_r"))],
            violations=1,
            limit_types=[("x_wyear_r3", "x_wyear_r3@example.com", "email")],
        )
    )
    return out


RULES_SEED = 41


def rule_stream(
    variant: str, cases: int, leave_out: tuple[str, ...] = ()
) -> tuple[Stream, list[RuleScenario]]:
    """A build's stream: random rule cases plus the variant's named scenarios (some may be
    left out by name)."""
    stream = random_stream(cases, RULES_SEED + ord(variant), rules=True)
    named = [s for s in rule_scenarios() if s.variant == variant and s.name not in leave_out]
    for scenario in named:
        stream.extend(scenario.stream)
    return stream, named


def assert_scenario(
    s: RuleScenario,
    rudder: dict[tuple[str, str], str],
    skipped: set[tuple[str, str]],
    rejected: set[tuple[str, str]],
) -> None:
    """The checks every warehouse makes of a named scenario: who shares a profile, who does
    not, what never became a node, what was skipped and what was rejected."""
    for a, b in s.together:
        assert rudder[a] == rudder[b], f"{s.name}: {a} and {b} should share a profile"
    for a, b in s.apart:
        assert rudder[a] != rudder[b], f"{s.name}: {a} and {b} should be apart"
    for node in s.absent:
        assert node not in rudder, f"{s.name}: {node} should not be a node"
    for row in s.skipped:
        assert row in skipped, f"{s.name}: {row} not skipped"
    for row in s.rejected:
        assert row in rejected, f"{s.name}: {row} not rejected"
