"""Erasure requests for the tests (docs/semantics.md §3c): named scenarios, random requests and
deletions over the random streams, and a scan that proves erased values are gone from a schema.

Every stream here uses the demo configuration (the `idstitch` var of dbt_project.yml) and the
columns of the demo raw tables (streams.TABLES), so the scenarios run through the demo sources.
Scenario values carry an `er_` prefix (and phone area code 29x) so that they touch no other case.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from idstitch.config import Config, manual_merges_source, parse_config
from idstitch.normalize import trim
from idstitch.reference import (
    Result,
    erased_profile_nodes,
    erasure_hash,
    normalize_identifier,
    read_erasures,
    stitch,
)
from idstitch.runner import PROJECT_DIR

from streams import Stream, at

Node = tuple[str, str]
EventKey = tuple[str, str]  # (source, event_id)
ERASURE_COLUMNS = ("erasure_id", "requested_at", "id_type", "id_value", "id_hash", "scope")
REQUESTED_AT = datetime(2024, 6, 1)


def erasure_row(
    erasure_id: str,
    *,
    id_type: str | None = None,
    id_value: str | None = None,
    id_hash: str | None = None,
    scope: str | None = "identifier",
) -> dict[str, Any]:
    """One row of the `erasures` relation (the columns of seeds/idstitch_erasures.csv)."""
    return {
        "erasure_id": erasure_id,
        "requested_at": REQUESTED_AT,
        "id_type": id_type,
        "id_value": id_value,
        "id_hash": id_hash,
        "scope": scope,
    }


@dataclass
class ErasureScenario:
    """A named case: the raw rows of each run, the requests, and what must hold after the last.

    `runs` holds what the raw tables contain at each run of an incremental build (the last is
    what a full refresh reads); the erasure requests are there from the first run on.
    `deleted` lists the rows of an earlier run that are gone from the last (deleted upstream).
    """

    name: str
    runs: list[Stream]
    erasures: list[dict[str, Any]]
    together: list[tuple[Node, Node]] = field(default_factory=list)
    apart: list[tuple[Node, Node]] = field(default_factory=list)
    erased_events: list[EventKey] = field(default_factory=list)  # rejected with reason erased
    gone_events: list[EventKey] = field(default_factory=list)  # neither identified nor rejected
    kept_events: list[EventKey] = field(default_factory=list)  # identified
    absent: list[str] = field(default_factory=list)  # text that must be in no table
    absent_hashes: list[str] = field(default_factory=list)  # hashes that must be in no table
    deleted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def stream(self) -> Stream:
        return self.runs[-1]

    def at_stage(self, stage: int) -> Stream:
        """The scenario's rows at a stage of the tests' builds: 0 the first run; 1 an
        incremental run, with the later rows of a scenario of scope identifier (a profile
        scenario's later rows touch the erased person, which makes a run rebuild, so they wait
        for stage 2); 2 a run that rebuilds, before rows are deleted upstream; 3 after."""
        profile = any((r["scope"] or "").strip().lower() == "profile" for r in self.erasures)
        if stage == 0 or (stage == 1 and profile) or (stage < 3 and self.deleted):
            return self.runs[0]
        return self.runs[-1]


def check(
    scenario: ErasureScenario,
    rudder_id: Callable[[Node], str | None],
    identified: set[EventKey],
    rejected: set[tuple[str, str | None, str]],
) -> list[str]:
    """What does not hold of a scenario's expectations, as messages (empty: all hold).

    `rudder_id` gives a node's rudder_id (None if it is no node); `identified` the keys of the
    identified events; `rejected` the (source, event_id, reason) of the rejected events. The
    absence of values is checked apart, by :func:`scan_for_values` or :func:`values_in_result`.
    """
    problems = []
    for a, b in scenario.together:
        ra, rb = rudder_id(a), rudder_id(b)
        if ra is None or ra != rb:
            problems.append(f"{a} and {b} should share a profile: {ra} vs {rb}")
    for a, b in scenario.apart:
        ra, rb = rudder_id(a), rudder_id(b)
        if ra is not None and ra == rb:
            problems.append(f"{a} and {b} should be apart, both are {ra}")
    for key in scenario.erased_events:
        if (*key, "erased") not in rejected:
            problems.append(f"event {key} should be rejected as erased")
        if key in identified:
            problems.append(f"event {key} should not be identified")
    for key in scenario.gone_events:
        if key in identified or any(r[:2] == key for r in rejected):
            problems.append(f"event {key} was deleted upstream and should be in no table")
    for key in scenario.kept_events:
        if key not in identified:
            problems.append(f"event {key} should be identified")
    return problems


def check_reference(scenario: ErasureScenario, result: Result) -> list[str]:
    """:func:`check` against a result of the reference."""
    return check(
        scenario,
        lambda n: result.mappings[n].rudder_id if n in result.mappings else None,
        set(result.identified_events),
        {(s, e, reason) for s, e, _, reason in result.rejected_events},
    )


def values_in_result(result: Result, values: Iterable[str]) -> list[tuple[str, str]]:
    """(table, value) for every text of `values` (compared trimmed and lower-cased) found in a
    cell of the reference's result: the Python twin of :func:`scan_for_values`."""
    wanted = {v.strip().lower() for v in values}
    found = []

    def look(table: str, cells: Iterable[Any]) -> None:
        for cell in cells:
            if isinstance(cell, str) and cell.strip().lower() in wanted:
                found.append((table, cell))

    for node, m in result.mappings.items():
        look("rudder_identity_mappings", [*node, m.rudder_id])
    for key, edge in result.merge_rules.items():
        look("rudder_identity_merge_rules", [*key, edge.sources])
    for rid, p in result.profiles.items():
        look("rudder_profiles", [rid, p.primary_id_type, p.primary_id_value, *p.traits.values()])
    for key, (_, rid) in result.identified_events.items():
        look("rudder_identified_events", [*key, rid])
    for key in result.rejected_events:
        look("idstitch_rejected_events", [key[0], key[1], key[3]])
    for row in result.rejected_identifiers:
        look("idstitch_rejected_identifiers", row)
    for skip in result.limit_violations:
        look("idstitch_limit_violations", skip)
    for skip in result.skipped_aliases:
        look("idstitch_skipped_aliases", skip)
    for shared in result.shared_identifiers:
        look("idstitch_shared_identifiers", shared)
    return found


def demo_config() -> Config:
    """The demo configuration (the `idstitch` var of dbt_project.yml), which every stream here
    is written for."""
    with open(PROJECT_DIR / "dbt_project.yml") as f:
        return parse_config(yaml.safe_load(f)["vars"]["idstitch"])


def _web(s: Stream, event_id: str, minute: float, **values: Any) -> None:
    s.add("web_tracks", message_id=event_id, timestamp=at(minute), **values)


def _scenario_forget_email() -> ErasureScenario:
    """(a) One email alone joined two anonymous ids; forgetting it leaves two profiles."""
    s = Stream()
    _web(s, "er_a_1", 0, anonymous_id="er_a_anon1", context_traits_email="Er_A@Example.com")
    _web(s, "er_a_2", 5, anonymous_id="er_a_anon2", context_traits_email="  er_a@example.com")
    a1, a2 = ("anonymous_id", "er_a_anon1"), ("anonymous_id", "er_a_anon2")
    return ErasureScenario(
        "forget_joining_email",
        [s],
        [erasure_row("er_a_req", id_type=" Email", id_value=" ER_A@example.COM ")],
        apart=[(a1, a2)],
        kept_events=[("web_tracks", "er_a_1"), ("web_tracks", "er_a_2")],
        absent=["er_a@example.com"],
        absent_hashes=[erasure_hash("email", "er_a@example.com")],
    )


# the person of scenario (b): every node of their profile, and their traits
_B_NODES = [
    ("anonymous_id", "er_b_anon"),
    ("user_id", "er_b_user"),
    ("device_id", "er_b_device"),
    ("email", "er_b@example.com"),
    ("phone", "+12995550101"),
]
_B_TRAITS = ["Erbfirstname", "Erblastname", "Erbcompany"]


def _scenario_forget_profile() -> ErasureScenario:
    """(b) Forget a whole person, named by one of their identifiers (scope profile): none of
    their identifiers or traits stays anywhere; their events are rejected as erased, and so is
    a merge event that tried to join them to someone else (whose profile stays)."""
    s = Stream()
    _web(
        s,
        "er_b_1",
        0,
        anonymous_id="er_b_anon",
        user_id="er_b_user",
        first_name="Erbfirstname",
        last_name="Erblastname",
    )
    s.add(
        "app_events",
        event_id="er_b_2",
        sent_at=at(1),
        device_id="er_b_device",
        user_id="er_b_user",
        email="Er_B@Example.com",
        phone="(299) 555-0101",
    )
    s.add(
        "webinar_leads",
        lead_id="er_b_3",
        registered_at=at(2),
        email="er_b@example.com",
        company="Erbcompany",
    )
    # another person, and a merge event joining the two (refused: one user_id per profile)
    _web(s, "er_b_4", 3, anonymous_id="er_b_other_anon", user_id="er_b_other", first_name="Ann")
    s.add(
        "merge_events",
        message_id="er_b_5",
        timestamp=at(4),
        merge_type_1="user_id",
        merge_value_1="er_b_user",
        merge_type_2="user_id",
        merge_value_2="er_b_other",
    )
    other = (("anonymous_id", "er_b_other_anon"), ("user_id", "er_b_other"))
    # later, the person's email comes again, in another spelling, with a new device: the
    # event is erased, and the device (theirs, without the request) with it
    last = Stream()
    last.extend(s)
    last.add(
        "app_events",
        event_id="er_b_6",
        sent_at=at(30),
        device_id="er_b_new_device",
        email=" ER_B@example.COM ",
    )
    new_device = ("device_id", "er_b_new_device")
    return ErasureScenario(
        "forget_whole_profile",
        [s, last],
        [erasure_row("er_b_req", id_type="device_id", id_value="er_b_device", scope=" Profile")],
        together=[other],
        erased_events=[("web_tracks", "er_b_1"), ("app_events", "er_b_2")]
        + [("webinar_leads", "er_b_3"), ("merge_events", "er_b_5"), ("app_events", "er_b_6")],
        kept_events=[("web_tracks", "er_b_4")],
        absent=[v for _, v in [*_B_NODES, new_device]] + _B_TRAITS,
        absent_hashes=[erasure_hash(t, v) for t, v in [*_B_NODES, new_device]],
    )


def _scenario_erased_value_comes_back() -> ErasureScenario:
    """(c) A later batch brings the erased value again, in another spelling: still erased, and
    it links nothing."""
    first = Stream()
    _web(first, "er_c_1", 0, anonymous_id="er_c_anon1", user_id="er_c_user")
    last = Stream()
    last.extend(first)
    _web(last, "er_c_2", 10, anonymous_id="er_c_anon2", user_id="  er_c_user ")
    s_app = dict(event_id="er_c_3", sent_at=at(11), device_id="er_c_device", user_id="er_c_user")
    last.add("app_events", **s_app)
    return ErasureScenario(
        "erased_value_arrives_again",
        [first, last],
        [erasure_row("er_c_req", id_type="user_id", id_value="er_c_user")],
        apart=[
            (("anonymous_id", "er_c_anon1"), ("anonymous_id", "er_c_anon2")),
            (("anonymous_id", "er_c_anon2"), ("device_id", "er_c_device")),
        ],
        kept_events=[("web_tracks", "er_c_1"), ("web_tracks", "er_c_2"), ("app_events", "er_c_3")],
        absent=["er_c_user"],
        absent_hashes=[erasure_hash("user_id", "er_c_user")],
    )


def _scenario_row_deleted_upstream() -> ErasureScenario:
    """(d) A raw row that was the only link between two identifiers is deleted upstream between
    two runs: they come apart, and its event is gone from every table. No erasure request."""
    first = Stream()
    _web(first, "er_d_1", 0, anonymous_id="er_d_anon", first_name="Erdname")
    link = first.add(
        "app_events", event_id="er_d_2", sent_at=at(1), device_id="er_d_device", email="er_d@x.io"
    )
    first.add(
        "merge_events",
        message_id="er_d_3",
        timestamp=at(2),
        merge_type_1="anonymous_id",
        merge_value_1="er_d_anon",
        merge_type_2="device_id",
        merge_value_2="er_d_device",
    )
    last = Stream()
    last.extend(first)
    merge = last.rows["merge_events"][-1]
    last.rows["merge_events"] = [r for r in last.rows["merge_events"] if r is not merge]
    assert link in last.rows["app_events"]
    return ErasureScenario(
        "row_deleted_upstream",
        [first, last],
        [],
        together=[(("device_id", "er_d_device"), ("email", "er_d@x.io"))],
        apart=[(("anonymous_id", "er_d_anon"), ("device_id", "er_d_device"))],
        gone_events=[("merge_events", "er_d_3")],
        kept_events=[("web_tracks", "er_d_1"), ("app_events", "er_d_2")],
        deleted=[("merge_events", merge)],
    )


def named_erasure_scenarios() -> list[ErasureScenario]:
    """Scenarios (a) to (d) of the erasure tests, on the demo configuration."""
    return [
        _scenario_forget_email(),
        _scenario_forget_profile(),
        _scenario_erased_value_comes_back(),
        _scenario_row_deleted_upstream(),
    ]


# --- random requests and deletions over a stream


def stream_nodes(config: Config, stream: Stream) -> list[Node]:
    """Every valid node the stream's event rows carry (identifiers, aliases, pairs), in a
    stable order; values of rejected copies included (a request may name any of them)."""
    found: dict[Node, None] = {}
    for source in (*config.sources, manual_merges_source(config)):
        for row in stream.rows.get(source.name, ()):
            cells: list[tuple[str | None, Any]] = [
                (c.id_type, row.get(c.column)) for c in (*source.identifiers, *source.aliases)
            ]
            for p in source.pairs:
                t = row.get(p.type_column)
                cells.append(
                    (trim(str(t)).lower() if t is not None else None, row.get(p.value_column))
                )
            for type_name, value in cells:
                if value is None:
                    continue
                node, _ = normalize_identifier(config, type_name, str(value))
                if node is not None:
                    found[node] = None
    return list(found)


def _respell(rng: random.Random, config: Config, node: Node) -> str:
    """Another spelling of a value that normalizes back to it (case, spaces, phone format)."""
    id_type, value = node
    rule = config.types_by_name[id_type].normalize
    if rule in ("email", "lower"):
        value = rng.choice([value.upper(), value.title(), value])
    elif rule == "phone" and value.startswith("+1") and len(value) == 12:
        d = value[2:]
        value = rng.choice([f"({d[:3]}) {d[3:6]}-{d[6:]}", f"001{d}", d, value])
    return rng.choice(["", " ", "\t"]) + value + rng.choice(["", "  "])


def random_erasures(
    stream: Stream, seed: int, share: float, config: Config | None = None
) -> list[dict[str, Any]]:
    """Erasure requests for about `share` of the stream's distinct valid values: a third of
    them for a whole profile; half by value (often in another spelling, the type in another
    case) and half by hash (sometimes upper-cased, with spaces); plus a few requests for values
    that never occur. Deterministic for a seed."""
    config = config or demo_config()
    rng = random.Random(seed)
    rows = []
    nodes = stream_nodes(config, stream)
    chosen = [n for n in nodes if rng.random() < share]
    never = [("email", f"never{k}@example.com") for k in range(3)] + [("user_id", "never_u")]
    for k, node in enumerate([*chosen, *never]):
        scope = rng.choice(["profile", "identifier", "identifier", None, " PROFILE "])
        if scope is not None and scope.strip().lower() == "identifier" and rng.random() < 0.3:
            scope = None  # null means identifier
        erasure_id = f"rnd{seed}_{k}"
        if rng.random() < 0.5:
            type_text = rng.choice([node[0], node[0].upper(), f" {node[0]} "])
            rows.append(
                erasure_row(
                    erasure_id, id_type=type_text, id_value=_respell(rng, config, node), scope=scope
                )
            )
        else:
            h = erasure_hash(*node)
            h = rng.choice([h, h.upper(), f" {h} "])
            rows.append(erasure_row(erasure_id, id_hash=h, scope=scope))
    return rows


def random_deletes(stream: Stream, seed: int, share: float) -> list[tuple[str, dict[str, Any]]]:
    """About `share` of the stream's raw rows (any source, rule rows included), as (source,
    row): the rows deleted upstream before a later run. Deterministic for a seed."""
    rng = random.Random(seed)
    return [
        (source, row)
        for source in sorted(stream.rows)
        for row in stream.rows[source]
        if rng.random() < share
    ]


def without(stream: Stream, deletes: Sequence[tuple[str, Mapping[str, Any]]]) -> Stream:
    """The stream with the given rows (compared by identity) deleted."""
    gone = {id(row) for _, row in deletes}
    out = Stream()
    for source, rows in stream.rows.items():
        out.rows[source] = [r for r in rows if id(r) not in gone]
    return out


def requested_values(config: Config, erasures: Iterable[Mapping[str, Any]]) -> list[str]:
    """The normalized values the requests name by value (what a scan looks for as text; a
    request that gives a hash names the value of its hash, which a scan looks for as such)."""
    return [r.value for r in read_erasures(config, erasures) if r.value is not None]


def requested_hashes(config: Config, erasures: Iterable[Mapping[str, Any]]) -> list[str]:
    """The hash of every request's value (given, or computed from the value)."""
    return [r.hash for r in read_erasures(config, erasures)]


def erased_values(
    config: Config, stream: Stream, erasures: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[str], int]:
    """What a scan for leftovers looks for after a run over `stream` with `erasures`: the
    values and the hashes the requests name, and every value of the profiles the profile-scope
    requests erase (by the reference), with its hash; and how many such profile values there
    are."""
    whole = erased_profile_nodes(config, stream.rows, stream.rows.get("never_merge", []), erasures)
    values = [*requested_values(config, erasures), *(v for _, v in whole)]
    hashes = [*requested_hashes(config, erasures), *(erasure_hash(t, v) for t, v in whole)]
    return values, hashes, len(whole)


def assert_erased_run(
    config: Config,
    batch: Stream,
    requests: Sequence[Mapping[str, Any]],
    actual: Result,
    query: QueryFn,
    schema: str,
    *,
    exclude_tables: Iterable[str] = (),
    quote: str = '"',
) -> None:
    """After a run over `batch` with `requests`: the marts (`actual`) equal the reference, the
    profile-scope requests erased whole profiles, and no table of `schema` (read with `query`,
    see scan_for_values) holds an erased value or hash, nor a value of an erased profile."""
    from warehouse import diff_results

    expected = stitch(config, batch.rows, batch.rows.get("never_merge", []), requests)
    problems = diff_results(expected, actual)
    assert not problems, "the build differs from the reference:\n" + "\n".join(problems)
    values, hashes, profile_values = erased_values(config, batch, requests)
    assert profile_values > 3  # the profile requests erased whole profiles
    leftovers = scan_for_values(
        query, schema, values, hashes, exclude_tables=exclude_tables, quote=quote
    )
    assert not leftovers, leftovers


def combined(parts: Iterable[Stream]) -> Stream:
    """One stream with the rows of every part."""
    out = Stream()
    for part in parts:
        out.extend(part)
    return out


# --- proving that nothing is left


QueryFn = Callable[[str], Sequence[Sequence[Any]]]
TEXT_TYPES = ("varchar", "text", "string", "char", "character", "character varying", "nvarchar")


def _query_fn(con_or_query_fn: Any) -> QueryFn:
    if callable(con_or_query_fn):
        fn: QueryFn = con_or_query_fn
        return fn
    return lambda sql: con_or_query_fn.execute(sql).fetchall()


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def scan_for_values(
    con_or_query_fn: Any,
    schema: str,
    values: Iterable[str],
    hashes: Iterable[str] = (),
    *,
    exclude_tables: Iterable[str] = (),
    quote: str = '"',
) -> list[tuple[str, str, str]]:
    """Every (table, column, value) of a schema's tables and views whose text column holds one
    of `values` or `hashes`, compared trimmed and case-insensitively.

    `con_or_query_fn` is a DuckDB connection or a function that runs a query and returns its
    rows. The tables and their text columns come from `information_schema.columns` (DuckDB,
    Snowflake; pass a query function that reads the dataset's own INFORMATION_SCHEMA, and
    quote='`', for BigQuery). Tables in `exclude_tables` (case-insensitive) are not read.
    """
    run = _query_fn(con_or_query_fn)
    wanted = sorted({v.strip().lower() for v in [*values, *hashes] if v and v.strip()})
    if not wanted:
        return []
    skip = {t.lower() for t in exclude_tables}
    columns: dict[str, list[str]] = {}
    for table, column, data_type in run(
        "select table_name, column_name, data_type from information_schema.columns "
        f"where lower(table_schema) = {_literal(schema.lower())} "
        "order by table_name, ordinal_position"
    ):
        kind = str(data_type).lower()
        if str(table).lower() in skip or not kind.startswith(TEXT_TYPES):
            continue
        columns.setdefault(str(table), []).append(str(column))
    listed = "(" + ", ".join(_literal(w) for w in wanted) + ")"

    def q(name: str) -> str:
        return quote + name.replace(quote, quote + quote) + quote

    # one query per 100 (table, column) pairs: on an emulator every request costs time
    parts = [
        f"select distinct {_literal(table)} as t, {_literal(column)} as c, {q(column)} as v"
        f" from {q(schema)}.{q(table)} where lower(trim({q(column)})) in {listed}"
        for table, cols in columns.items()
        for column in cols
    ]
    found = []
    for start in range(0, len(parts), 100):
        sql = " union all ".join(parts[start : start + 100])
        found += [(str(t), str(c), str(v)) for t, c, v in run(sql)]
    return sorted(found)
