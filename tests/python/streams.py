"""Raw event streams for the tests: seeded random cases and named scenarios.

Every case lives in its own value namespace (a prefix on every valid identifier, its own phone
area code), so that hundreds of cases fit in one dbt build without their components touching.
Junk values (placeholders, malformed emails and phones) carry no prefix: they are rejected in
every case, so they can never join two cases either.

The rows use the columns of the demo raw tables (seeds/demo), so the cases run through the
project's own demo sources.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# source name -> (raw table, columns); timestamps are the `*_at`/`timestamp` columns
TABLES: dict[str, tuple[str, list[str]]] = {
    "web_tracks": (
        "raw_web_tracks",
        [
            "message_id",
            "timestamp",
            "event",
            "anonymous_id",
            "user_id",
            "context_traits_email",
            "context_device_id",
            "first_name",
            "last_name",
        ],
    ),
    "app_events": (
        "raw_app_events",
        [
            "event_id",
            "sent_at",
            "event_name",
            "device_id",
            "user_id",
            "email",
            "phone",
            "first_name",
            "last_name",
        ],
    ),
    "merge_events": (
        "raw_merge_events",
        [
            "message_id",
            "timestamp",
            "merge_type_1",
            "merge_value_1",
            "merge_type_2",
            "merge_value_2",
        ],
    ),
    "webinar_leads": (
        "raw_webinar_leads",
        ["lead_id", "registered_at", "first_name", "last_name", "company", "email", "phone"],
    ),
    "crm_contacts": (
        "raw_crm_contacts",
        ["contact_id", "updated_at", "email", "phone", "mobile", "first_name", "last_name"],
    ),
    "manual_merges": (
        "raw_manual_merges",
        ["merge_id", "merged_at", "id1_type", "id1_value", "id2_type", "id2_value", "note"],
    ),
    "never_merge": (
        "raw_never_merge",
        ["pair_id", "id1_type", "id1_value", "id2_type", "id2_value", "note"],
    ),
}
LOADED_AT = "_loaded_at"  # the load time column of raw tables written batch by batch
TIME_COLUMNS = {"timestamp", "sent_at", "registered_at", "updated_at", "merged_at", LOADED_AT}
# raw tables to write into a warehouse: table -> (columns, rows)
RawTables = dict[str, tuple[list[str], list[dict[str, Any]]]]
EVENT_ID = {
    "web_tracks": "message_id",
    "app_events": "event_id",
    "merge_events": "message_id",
    "webinar_leads": "lead_id",
    "crm_contacts": "contact_id",
    "manual_merges": "merge_id",
}
OCCURRED_AT = {
    "web_tracks": "timestamp",
    "app_events": "sent_at",
    "merge_events": "timestamp",
    "webinar_leads": "registered_at",
    "crm_contacts": "updated_at",
    "manual_merges": "merged_at",
}
EVENT_SOURCES = list(EVENT_ID)

BASE_TIME = datetime(2024, 1, 1, 12, 0, 0)

JUNK = [
    "-1",
    "null",
    "NULL",
    " anonymous ",
    "0",
    "000",
    "--",
    "undefined",
    "None",
    "nan",
    "",
    "   ",
    "\t",
]
JUNK_EMAIL = [*JUNK, "not-an-email", "a@b", "x y@z.com", "@example.com"]
JUNK_PHONE = ["12", "abc", "+0123456789", "00000", "-1", "", "555"]


@dataclass
class Stream:
    """Raw rows per source name, in the order they arrive."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, source: str, **values: Any) -> dict[str, Any]:
        row = {c: None for c in TABLES[source][1]}
        unknown = set(values) - set(row)
        if unknown:
            raise KeyError(f"{source} has no columns {sorted(unknown)}")
        row.update(values)
        self.rows[source].append(row)
        return row

    def extend(self, other: Stream) -> None:
        for source, rows in other.rows.items():
            self.rows[source].extend(rows)


def values_batches(
    rows: list[dict[str, Any]], columns: list[str], literal: Callable[[Any], str], size: int
) -> Iterator[str]:
    """The rows as the VALUES lists of INSERT statements, `size` rows each, each value written
    by the warehouse's `literal` (one big literal insert is much faster than executemany)."""
    for start in range(0, len(rows), size):
        yield ",\n".join(
            "(" + ", ".join(literal(row[c]) for c in columns) + ")"
            for row in rows[start : start + size]
        )


def at(minutes: float) -> datetime:
    return BASE_TIME + timedelta(minutes=minutes)


class _Pools:
    """A case's valid identifier values, a few per type so that they collide."""

    def __init__(self, rng: random.Random, prefix: str, area: int) -> None:
        self.rng = rng
        self.users = [f"{prefix}_u{k}" for k in range(rng.randint(1, 4))]
        self.emails = [f"{prefix}_e{k}@example.com" for k in range(rng.randint(1, 4))]
        self.phones = [f"{area:03d}555{k:04d}" for k in range(rng.randint(1, 3))]
        self.anons = [f"{prefix}_a{k}" for k in range(rng.randint(1, 5))]
        self.devices = [f"{prefix}_d{k}" for k in range(rng.randint(1, 4))]
        self.prefix = prefix

    def maybe(self, p: float, value: Any) -> Any:
        return value if self.rng.random() < p else None

    def pick(self, pool: list[str], junk: list[str], p_junk: float = 0.12) -> str:
        if self.rng.random() < p_junk:
            return self.rng.choice(junk)
        return self.rng.choice(pool)

    def user(self) -> str:
        return self.pick(self.users, JUNK)

    def anon(self) -> str:
        if self.rng.random() < 0.03:
            return f"{self.prefix}_" + "x" * 600  # too long
        return self.pick(self.anons, JUNK)

    def device(self) -> str:
        return self.pick(self.devices, JUNK)

    def email(self) -> str:
        value = self.pick(self.emails, JUNK_EMAIL)
        return self.rng.choice([value, value.upper(), f"  {value} ", value.title()])

    def phone(self) -> str:
        if self.rng.random() < 0.12:
            return self.rng.choice(JUNK_PHONE)
        d = self.rng.choice(self.phones)
        return self.rng.choice(
            [
                f"+1{d}",
                f"+1 {d[:3]} {d[3:6]} {d[6:]}",
                f"({d[:3]}) {d[3:6]}-{d[6:]}",
                f"{d[:3]}.{d[3:6]}.{d[6:]}",
                f"001{d}",
                d,
            ]
        )

    def pair_type(self, kind: str) -> str:
        spellings = {
            "user_id": ["user_id", "USER_ID", " user_id "],
            "email": ["email", "Email", " EMAIL"],
            "anonymous_id": ["anonymous_id", "Anonymous_Id"],
            "device_id": ["device_id"],
        }
        return self.rng.choice(spellings[kind])


def two_batches(stream: Stream, seed: int, share: float = 0.6) -> Stream:
    """The first batch of an incremental build: never-merge pairs (rules, not events) and a
    random `share` of every other source's rows; the second batch is the whole stream."""
    rng = random.Random(seed)
    first = Stream()
    for source, rows in stream.rows.items():
        first.rows[source] = [r for r in rows if source == "never_merge" or rng.random() < share]
    return first


def growing_batches(stream: Stream, seed: int, count: int) -> list[Stream]:
    """What the raw tables hold at each of `count` runs of an incremental build: every row
    arrives at a random run (never-merge pairs, rules rather than events, at the first) and
    stays, in the stream's order; the last run sees the whole stream."""
    rng = random.Random(seed)
    arrival = {
        source: [0 if source == "never_merge" else rng.randrange(count) for _ in rows]
        for source, rows in stream.rows.items()
    }
    batches = []
    for run in range(count):
        batch = Stream()
        for source, rows in stream.rows.items():
            batch.rows[source] = [r for r, a in zip(rows, arrival[source], strict=True) if a <= run]
        batches.append(batch)
    return batches


def loaded_tables(batches: Sequence[Stream], run: int, times: Sequence[datetime]) -> RawTables:
    """The raw tables at `run` of an incremental build whose every batch holds the rows of the
    ones before it (two_batches, growing_batches), with a load-time column: each row loaded at
    the time of the first batch that holds it, as a loader that appends would leave it."""
    first: dict[int, datetime] = {}
    for batch, time in zip(batches[: run + 1], times, strict=False):
        for rows in batch.rows.values():
            for row in rows:
                first.setdefault(id(row), time)
    return {
        table: (
            [*columns, LOADED_AT],
            [{**r, LOADED_AT: first[id(r)]} for r in batches[run].rows.get(source, [])],
        )
        for source, (table, columns) in TABLES.items()
    }


def random_case(case: int, seed: int, rules: bool = False) -> Stream:
    """One seeded random stream: chains, stars, cycles, duplicates, junk, equal times; with
    `rules`, also manual merges and never-merge pairs among the case's values."""
    rng = random.Random(seed * 100_003 + case + (7_919 if rules else 0))
    prefix = f"{'r' if rules else 'c'}{case:03d}"
    pools = _Pools(rng, prefix, area=200 + case)
    stream = Stream()
    written: list[tuple[str, dict[str, Any]]] = []
    # With rules, a case's time steps span minutes to months, so that limits over a period
    # (docs/semantics.md §3b) bind and lapse, and a third of the cases are long-lived people:
    # more events over more time, with more anonymous ids (drawn apart from `rng`).
    step, times, extra = 1.0, 6, 0
    if rules:
        shape = random.Random(seed * 7_919 + case)
        step = shape.choice([1, 1, 1440, 3 * 1440, 12 * 1440, 90 * 1440])
        if shape.random() < 0.35:
            times, extra = 30, shape.randint(6, 20)
            pools.anons += [f"{prefix}_a{len(pools.anons) + k}" for k in range(shape.randint(2, 6))]
    for j in range(rng.randint(1, 14) + extra):
        source = rng.choices(EVENT_SOURCES[:5], weights=[5, 4, 2, 2, 1])[0]
        event_id: Any = f"{prefix}_{source[:3]}{j}"
        r = rng.random()
        if r < 0.03:
            event_id = None
        elif r < 0.05:
            event_id = rng.choice(["", "  "])
        minute = rng.randint(0, times) * step  # few distinct times: many ties
        when: Any = at(minute) if rng.random() > 0.03 else None
        name = rng.choice([None, "Ann", "Bo", "Cy"])
        if written and rng.random() < 0.12:  # a copy of an earlier event
            old_source, old = rng.choice(written)
            if rng.random() < 0.5:
                stream.add(old_source, **old)  # identical copy
                continue
            source, event_id = old_source, old[EVENT_ID[old_source]]
            when = at(rng.randint(0, times) * step)
        values: dict[str, Any] = {EVENT_ID[source]: event_id, OCCURRED_AT[source]: when}
        if source == "web_tracks":
            values.update(
                anonymous_id=pools.maybe(0.8, pools.anon()),
                user_id=pools.maybe(0.4, pools.user()),
                context_traits_email=pools.maybe(0.3, pools.email()),
                context_device_id=pools.maybe(0.4, pools.device()),
                first_name=name,
                event="page_viewed",
            )
        elif source == "app_events":
            values.update(
                device_id=pools.maybe(0.8, pools.device()),
                user_id=pools.maybe(0.4, pools.user()),
                email=pools.maybe(0.3, pools.email()),
                phone=pools.maybe(0.3, pools.phone()),
                last_name=name,
                event_name="app_opened",
            )
        elif source == "merge_events":
            for k in (1, 2):
                kind = rng.choice(["user_id", "email", "anonymous_id", "device_id", "unknown"])
                if kind == "unknown":
                    values[f"merge_type_{k}"] = rng.choice(["loyalty_card", None, ""])
                    values[f"merge_value_{k}"] = f"{prefix}_lc{rng.randint(0, 2)}"
                else:
                    values[f"merge_type_{k}"] = pools.pair_type(kind)
                    values[f"merge_value_{k}"] = {
                        "user_id": pools.user,
                        "email": pools.email,
                        "anonymous_id": pools.anon,
                        "device_id": pools.device,
                    }[kind]()
        elif source == "webinar_leads":
            values.update(
                email=pools.maybe(0.7, pools.email()),
                phone=pools.maybe(0.6, pools.phone()),
                first_name=name,
                company=rng.choice([None, "Acme"]),
            )
        else:
            values.update(
                email=pools.maybe(0.7, pools.email()),
                phone=pools.maybe(0.5, pools.phone()),
                mobile=pools.maybe(0.4, pools.phone()),
                first_name=name,
            )
        row = stream.add(source, **values)
        written.append((source, row))
    if rules:
        _add_rule_rows(rng, pools, prefix, stream, step)
    return stream


def random_stream(cases: int, seed: int, rules: bool = False) -> Stream:
    """`cases` seeded random cases (see random_case), each in its own namespace, in one stream."""
    stream = Stream()
    for case in range(cases):
        stream.extend(random_case(case, seed, rules=rules))
    return stream


def _add_rule_rows(
    rng: random.Random, pools: _Pools, prefix: str, stream: Stream, step: float = 1.0
) -> None:
    """Manual merges and never-merge pairs between the case's own values."""
    kinds = {
        "user_id": pools.users,
        "email": pools.emails,
        "anonymous_id": pools.anons,
        "device_id": pools.devices,
    }

    def value() -> tuple[str, str]:
        kind = rng.choice(list(kinds))
        return kind, rng.choice(kinds[kind])

    for k in range(rng.choice([0, 0, 1, 2])):
        (t1, v1), (t2, v2) = value(), value()
        stream.add(
            "manual_merges",
            merge_id=f"{prefix}_mm{k}",
            merged_at=at(rng.randint(0, 7) * step),
            id1_type=t1,
            id1_value=v1,
            id2_type=t2,
            id2_value=v2,
        )
    for k in range(rng.choice([0, 0, 1, 2])):
        (t1, v1), (t2, v2) = value(), value()
        stream.add(
            "never_merge",
            pair_id=f"{prefix}_nm{k}",
            id1_type=t1,
            id1_value=v1,
            id2_type=t2,
            id2_value=v2,
        )


@dataclass
class Scenario:
    """A named case with the partition it must produce (independently of the reference)."""

    name: str
    stream: Stream
    # each profile as a set of (id_type, value); its earliest node first in `earliest`
    profiles: list[set[tuple[str, str]]]
    earliest: list[tuple[str, str]]


def scenarios() -> list[Scenario]:
    out: list[Scenario] = []

    def web(s: Stream, eid: str, minute: float, **ids: Any) -> None:
        s.add("web_tracks", message_id=eid, timestamp=at(minute), **ids)

    s = Stream()
    web(s, "s_pair_1", 0, anonymous_id="s_pair_a", user_id="s_pair_u")
    out.append(
        Scenario(
            "simple_pair",
            s,
            [{("anonymous_id", "s_pair_a"), ("user_id", "s_pair_u")}],
            [("user_id", "s_pair_u")],
        )
    )

    s = Stream()
    web(s, "s_chain_1", 1, anonymous_id="s_chain_a", context_device_id="s_chain_d")
    s.add(
        "app_events",
        event_id="s_chain_2",
        sent_at=at(2),
        device_id="s_chain_d",
        user_id="s_chain_u",
    )
    s.add(
        "app_events",
        event_id="s_chain_3",
        sent_at=at(3),
        user_id="s_chain_u",
        email="S_Chain@Example.com ",
    )
    s.add(
        "webinar_leads",
        lead_id="s_chain_4",
        registered_at=at(4),
        email="s_chain@example.com",
        phone="(199) 555-0101",
    )
    out.append(
        Scenario(
            "chain",
            s,
            [
                {
                    ("anonymous_id", "s_chain_a"),
                    ("device_id", "s_chain_d"),
                    ("user_id", "s_chain_u"),
                    ("email", "s_chain@example.com"),
                    ("phone", "+11995550101"),
                }
            ],
            [("anonymous_id", "s_chain_a")],
        )
    )

    s = Stream()
    for k in range(5):
        web(s, f"s_fanin_{k}", 10 - k, anonymous_id=f"s_fanin_a{k}", user_id="s_fanin_u")
    out.append(
        Scenario(
            "fan_in",
            s,
            [{("user_id", "s_fanin_u")} | {("anonymous_id", f"s_fanin_a{k}") for k in range(5)}],
            [("user_id", "s_fanin_u")],
        )
    )

    s = Stream()
    for k in range(5):
        web(
            s,
            f"s_fanout_{k}",
            k,
            anonymous_id="s_fanout_a",
            context_traits_email=f"s_fanout_{k}@example.com",
        )
    out.append(
        Scenario(
            "fan_out",
            s,
            [
                {("anonymous_id", "s_fanout_a")}
                | {("email", f"s_fanout_{k}@example.com") for k in range(5)}
            ],
            [("email", "s_fanout_0@example.com")],
        )
    )

    s = Stream()
    web(s, "s_dia_1", 5, anonymous_id="s_dia_a", user_id="s_dia_u")
    web(s, "s_dia_2", 5, anonymous_id="s_dia_a", context_traits_email="s_dia@example.com")
    s.add("app_events", event_id="s_dia_3", sent_at=at(6), user_id="s_dia_u", device_id="s_dia_d")
    s.add(
        "app_events",
        event_id="s_dia_4",
        sent_at=at(7),
        email="s_dia@example.com",
        device_id="s_dia_d",
    )
    out.append(
        Scenario(
            "diamond",
            s,
            [
                {
                    ("anonymous_id", "s_dia_a"),
                    ("user_id", "s_dia_u"),
                    ("email", "s_dia@example.com"),
                    ("device_id", "s_dia_d"),
                }
            ],
            [("user_id", "s_dia_u")],
        )
    )

    s = Stream()
    web(s, "s_dis_1", 0, anonymous_id="s_dis_a1", user_id="s_dis_u1")
    web(s, "s_dis_2", 0, anonymous_id="s_dis_a2", user_id="s_dis_u2")
    web(s, "s_dis_3", 1, anonymous_id="s_dis_a3", user_id="-1")  # placeholder never links
    web(s, "s_dis_4", 2, anonymous_id="s_dis_a4", user_id="-1")
    out.append(
        Scenario(
            "disjoint",
            s,
            [
                {("anonymous_id", "s_dis_a1"), ("user_id", "s_dis_u1")},
                {("anonymous_id", "s_dis_a2"), ("user_id", "s_dis_u2")},
                {("anonymous_id", "s_dis_a3")},
                {("anonymous_id", "s_dis_a4")},
            ],
            [
                ("user_id", "s_dis_u1"),
                ("user_id", "s_dis_u2"),
                ("anonymous_id", "s_dis_a3"),
                ("anonymous_id", "s_dis_a4"),
            ],
        )
    )

    s = Stream()
    s.add(
        "merge_events",
        message_id="s_self_1",
        timestamp=at(0),
        merge_type_1="email",
        merge_value_1="s_self@example.com",
        merge_type_2="EMAIL",
        merge_value_2=" S_Self@Example.com",
    )
    out.append(
        Scenario(
            "self_pair", s, [{("email", "s_self@example.com")}], [("email", "s_self@example.com")]
        )
    )

    s = Stream()
    web(s, "s_dup_1", 0, anonymous_id="s_dup_a", user_id="s_dup_u")
    web(s, "s_dup_1", 0, anonymous_id="s_dup_a", user_id="s_dup_u")  # identical: counts once
    web(s, "s_dup_1", 3, anonymous_id="s_dup_b", user_id="s_dup_v")  # later, differing
    out.append(
        Scenario(
            "duplicate_event",
            s,
            [{("anonymous_id", "s_dup_a"), ("user_id", "s_dup_u")}],
            [("user_id", "s_dup_u")],
        )
    )

    s = Stream()
    for k in range(3):
        web(s, f"s_reobs_{k}", k, anonymous_id="s_reobs_a", user_id="s_reobs_u")
    out.append(
        Scenario(
            "re_observed_edge",
            s,
            [{("anonymous_id", "s_reobs_a"), ("user_id", "s_reobs_u")}],
            [("user_id", "s_reobs_u")],
        )
    )
    return out


CHAIN_HOPS = 5000


def long_chain(hops: int = CHAIN_HOPS, seed: int = 7) -> Scenario:
    """A path of hops + 1 nodes (anonymous and device ids alternating), events in random time
    order: the worst case for label propagation, which needs one round per hop."""
    rng = random.Random(seed)
    nodes = [
        ("anonymous_id" if k % 2 == 0 else "device_id", f"s_long_{k}") for k in range(hops + 1)
    ]
    minutes = list(range(hops))
    rng.shuffle(minutes)
    s = Stream()
    for k in range(hops):
        a, b = nodes[k], nodes[k + 1]
        anon, device = (a, b) if a[0] == "anonymous_id" else (b, a)
        s.add(
            "web_tracks",
            message_id=f"s_long_e{k}",
            timestamp=at(minutes[k]),
            anonymous_id=anon[1],
            context_device_id=device[1],
        )
    first = min(range(hops), key=lambda k: minutes[k])
    pair = sorted([nodes[first], nodes[first + 1]], key=lambda n: n[0] != "anonymous_id")
    return Scenario("long_chain", s, [set(nodes)], [pair[0]])
