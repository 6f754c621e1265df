"""`idstitch explain A B`: why two identifiers share a profile, or why they do not.

Same profile: the shortest chain of applied merge rules from A to B, each hop with the event
that gave it (source, event id, time), found by joining the normalized identifiers of accepted
events (`int_idstitch__observation_index`, which holds every accepted event after full and
incremental runs alike: an edge is an event's anchor, position 1, and one of its other
identifiers).

Different profiles: both profiles, any merge rule between them that was not applied (with its
`skip_reason`), skips logged by the resolution rules (`idstitch_limit_violations`,
`idstitch_skipped_aliases`, when the build has them), shared identifiers, and values both
profiles' events carried that were rejected (a placeholder links nothing). An identifier that is
not a node is explained from `idstitch_rejected_identifiers`.

A union refused by a limit over a period (docs/semantics.md §3b) also names the period and the
values of the limited type that were in the window at the refused event: the event's own values
and those an earlier identified event carried after the event's time minus the period. They are
read from the marts and the observation index, so two approximations apply: the profiles are
taken as they are now (their values first seen by the refused event's time), and an event that
carried a value counts as observing it, which for `first`/`first_alias` sources and aliases is
not always so. The replay of `idstitch audit` is the exact check; this is the explanation.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from idstitch.config import Config, IdType
from idstitch.marts import AdapterMarts, DuckDBMarts, Marts
from idstitch.normalize import normalize_value, trim
from idstitch.runner import DbtProject

SCHEMA = "idstitch"
INDEX = "int_idstitch__observation_index"
Node = tuple[str, str]


class ExplainError(ValueError):
    """The question cannot be asked: a malformed identifier or an unknown type."""


@dataclass
class Hop:
    a: Node
    b: Node
    source: str | None
    event_id: str | None
    occurred_at: datetime | None
    events: int  # events that carried the pair


@dataclass
class Found:
    node: Node
    rudder_id: str | None  # None: not a node of the graph
    is_shared: bool = False
    rejected: list[tuple[str, int]] = field(default_factory=list)  # (reason, events)


@dataclass
class Explanation:
    a: Found
    b: Found
    path: list[Hop] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def same_profile(self) -> bool:
        return self.a.rudder_id is not None and self.a.rudder_id == self.b.rudder_id

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["same_profile"] = self.same_profile
        return out


def parse_identifier(text: str, config: Config) -> Node:
    """`type:value` -> (type, normalized value), as the pipeline would store it."""
    if ":" not in text:
        raise ExplainError(f"`{text}` is not TYPE:VALUE (e.g. email:jane@example.com)")
    id_type, raw = text.split(":", 1)
    id_type = id_type.strip().lower()
    types = config.types_by_name
    if id_type not in types:
        raise ExplainError(
            f"unknown identifier type `{id_type}`; configured types are: {', '.join(types)}"
        )
    value = trim(raw)
    return id_type, normalize_value(
        types[id_type].normalize, value, config.default_phone_country_code
    )


def _is(m: Marts, prefix: str, node: Node) -> str:
    """`prefix.id_type = 'type' and prefix.id_value = 'value'`, the values inlined safely."""
    lit = m.dialect.literal
    return f"{prefix}id_type = {lit(node[0])} and {prefix}id_value = {lit(node[1])}"


def _find(m: Marts, node: Node, config: Config) -> Found:
    row = m.tuples(
        "select rudder_id, is_shared from {rudder_identity_mappings} where " + _is(m, "", node)
    )
    if row:
        return Found(node, row[0][0], bool(row[0][1]))
    found = Found(node, None)
    if "idstitch_rejected_identifiers" in m.tables:
        rule = config.types_by_name[node[0]].normalize
        counts: dict[str, int] = {}
        for raw, reason, n in m.tuples(
            "select raw_value, reason, count(*) from {idstitch_rejected_identifiers} "
            f"where id_type = {m.dialect.literal(node[0])} group by raw_value, reason"
        ):
            normalized = normalize_value(rule, trim(raw), config.default_phone_country_code)
            if normalized == node[1] or normalized.lower() == node[1].lower():
                counts[reason] = counts.get(reason, 0) + int(n)
        found.rejected = sorted(counts.items())
    return found


def _profile(m: Marts, rudder_id: str) -> dict[str, Any]:
    rows = m.tuples(
        "select primary_id_type, primary_id_value, identifier_count, first_seen_at, last_seen_at "
        f"from {{rudder_profiles}} where rudder_id = {m.dialect.literal(rudder_id)}"
    )
    if not rows:
        return {"rudder_id": rudder_id}
    t, v, n, first, last = rows[0]
    return {
        "rudder_id": rudder_id,
        "primary_id": f"{t}:{v}",
        "identifier_count": n,
        "first_seen_at": first,
        "last_seen_at": last,
    }


def _shortest_path(m: Marts, a: Node, b: Node, rudder_id: str) -> list[tuple[Node, Node]]:
    """Breadth-first search over the applied merge rules of one profile (as stored edges)."""
    edges = m.tuples(
        f"""select r.id1_type, r.id1_value, r.id2_type, r.id2_value
           from {{rudder_identity_merge_rules}} as r
           inner join {{rudder_identity_mappings}} as m
               on r.id1_type = m.id_type and r.id1_value = m.id_value
           where m.rudder_id = {m.dialect.literal(rudder_id)} and r.applied
           order by r.id1_type, r.id1_value, r.id2_type, r.id2_value"""
    )
    neighbours: dict[Node, list[tuple[Node, tuple[Node, Node]]]] = {}
    for t1, v1, t2, v2 in edges:
        x, y = (t1, v1), (t2, v2)
        neighbours.setdefault(x, []).append((y, (x, y)))
        neighbours.setdefault(y, []).append((x, (x, y)))
    came_from: dict[Node, tuple[Node, tuple[Node, Node]] | None] = {a: None}
    queue = deque([a])
    while queue:
        here = queue.popleft()
        if here == b:
            break
        for there, edge in neighbours.get(here, []):
            if there not in came_from:
                came_from[there] = (here, edge)
                queue.append(there)
    if b not in came_from:
        return []
    chain: list[tuple[Node, Node]] = []
    node = b
    while came_from[node] is not None:
        previous, edge = came_from[node]  # type: ignore[misc]
        chain.append(edge)
        node = previous
    return list(reversed(chain))


def _evidence(m: Marts, edge: tuple[Node, Node], forward: bool) -> Hop:
    """The first event that carried an edge (anchor, other), and how many did."""
    (t1, v1), (t2, v2) = edge
    a, b = (edge[0], edge[1]) if forward else (edge[1], edge[0])
    if INDEX in m.tables:
        # aliases are numbered apart from identifiers and never anchor an edge
        rows = m.tuples(
            f"""select anchor.source, anchor.event_id, anchor.occurred_at,
                      count(*) over () as events
               from {{{INDEX}}} as anchor
               inner join {{{INDEX}}} as other
                   on anchor.source = other.source and anchor.event_id = other.event_id
               where anchor.id_position = 1 and not anchor.is_alias
                 and {_is(m, "anchor.", (t1, v1))}
                 and {_is(m, "other.", (t2, v2))}
               order by anchor.occurred_at, anchor.source, anchor.event_id
               limit 1"""
        )
        if rows:
            source, event_id, at, n = rows[0]
            return Hop(a, b, source, event_id, at, int(n))
    # without the index, the merge rule itself still says when and where
    lit = m.dialect.literal
    rule = m.tuples(
        f"""select sources, first_seen_at, event_count from {{rudder_identity_merge_rules}}
           where id1_type = {lit(t1)} and id1_value = {lit(v1)}
             and id2_type = {lit(t2)} and id2_value = {lit(v2)}"""
    )
    sources, at, n = rule[0] if rule else (None, None, 0)
    return Hop(a, b, sources, None, at, int(n or 0))


def _in_window(
    m: Marts,
    refusal: tuple[str, str, datetime, str, str, str],
    id_type: IdType,
    window: timedelta,
) -> list[tuple[str, datetime | None]]:
    """The values of ``id_type`` in the window at a refused event (docs/semantics.md §3b), each
    with its latest earlier observation (None: the event's own value), from the marts."""
    source, event_id, at, x_type, x_value, rudder_id = refusal
    lit = m.dialect.literal
    sides = m.tuples(
        f"select rudder_id from {{rudder_identity_mappings}} where {_is(m, '', (x_type, x_value))}"
    )
    profiles = ", ".join(lit(r) for r in {rudder_id, *(r for (r,) in sides)})
    observations = m.tuples(
        f"""select o.id_value, o.source, o.event_id, o.occurred_at, mp.first_seen_at
           from {{{INDEX}}} as o
           inner join {{rudder_identity_mappings}} as mp
               on o.id_type = mp.id_type and o.id_value = mp.id_value
           inner join {{rudder_identified_events}} as ie
               on o.source = ie.source and o.event_id = ie.event_id
           where mp.rudder_id in ({profiles}) and o.id_type = {lit(id_type.name)}
           order by o.id_value, o.occurred_at, o.source, o.event_id"""
    )
    refused = (at, source, event_id)
    # the refused value itself may not be a node (an alias that was never added)
    own = {x_value} if x_type == id_type.name else set()
    seen: dict[str, datetime] = {}
    for value, src, eid, when, first_seen in observations:  # in time order: the last is latest
        if (src, eid) == (source, event_id):
            own.add(value)  # the event's own values always count
        elif first_seen <= at and (when, src, eid) < refused and when > at - window:
            seen[value] = when
    earlier = sorted((when, value) for value, when in seen.items() if value not in own)
    return [(value, None) for value in sorted(own)] + [(value, when) for when, value in earlier]


def _period_refusals(m: Marts, e: Explanation, config: Config, a: str, b: str) -> None:
    """Name the period, and the values in its window, of each union a period limit refused."""
    windows = {
        t.name: (t, w)
        for t in config.id_types
        if t.limit is not None and (w := t.limit_window) is not None
    }
    if not windows or INDEX not in m.tables:
        return
    types = ", ".join(m.dialect.literal(name) for name in windows)
    for table in ("idstitch_limit_violations", "idstitch_skipped_aliases"):
        if table not in m.tables:
            continue
        for source, event_id, at, t, v, rid, limit_type in m.tuples(
            f"""select source, event_id, occurred_at, id_type, id_value, rudder_id, limit_type
                from {{{table}}}
                where reason = 'limit_exceeded' and limit_type in ({types})
                  and (rudder_id in ({a}, {b}) or ({_is(m, "", e.a.node)})
                       or ({_is(m, "", e.b.node)}))
                order by occurred_at, source, event_id, id_type, id_value limit 5"""
        ):
            id_type, window = windows[limit_type]
            counted = _in_window(m, (source, event_id, at, t, v, rid), id_type, window)
            listed = ", ".join(
                f"{value} (this event)" if seen is None else f"{value} (last seen {seen})"
                for value, seen in counted
            )
            e.reasons.append(
                f"{limit_type} is limited to {id_type.limit} per {id_type.limit_per}: at {at}, "
                f"event {source}/{event_id} would have put {len(counted)} {limit_type} values "
                f"in the window into one profile: {listed}. Values last seen on or before "
                f"{at - window} no longer count (docs/semantics.md §3b)."
            )


def _why_apart(m: Marts, e: Explanation, config: Config) -> None:
    ra, rb = e.a.rudder_id, e.b.rudder_id
    for f in (e.a, e.b):
        label = f"{f.node[0]}:{f.node[1]}"
        if f.rudder_id is None and f.rejected:
            why = ", ".join(f"{reason} in {n} event(s)" for reason, n in f.rejected)
            e.reasons.append(f"{label} is not an identifier: it was rejected ({why}).")
        elif f.rudder_id is None:
            e.reasons.append(f"{label} was never seen in an accepted event.")
        elif f.is_shared:
            e.reasons.append(
                f"{label} is a shared identifier: it has its own profile and links nothing."
            )  # noqa: E501
    if ra is None or rb is None:
        return
    a, b = m.dialect.literal(ra), m.dialect.literal(rb)
    rules = m.tuples(
        f"""select r.id1_type, r.id1_value, r.id2_type, r.id2_value, r.applied, r.skip_reason,
                  r.first_seen_at, r.sources
           from {{rudder_identity_merge_rules}} as r
           inner join {{rudder_identity_mappings}} as m1
               on r.id1_type = m1.id_type and r.id1_value = m1.id_value
           inner join {{rudder_identity_mappings}} as m2
               on r.id2_type = m2.id_type and r.id2_value = m2.id_value
           where (m1.rudder_id = {a} and m2.rudder_id = {b})
              or (m1.rudder_id = {b} and m2.rudder_id = {a})
           order by r.first_seen_at, r.id1_type, r.id1_value, r.id2_type, r.id2_value"""
    )
    for t1, v1, t2, v2, applied, skip, first, sources in rules:
        state = "applied (yet the profiles differ: run `idstitch audit`)" if applied else (
            f"not applied: {skip or 'no reason recorded'}"
        )  # fmt: skip
        e.reasons.append(
            f"merge rule {t1}:{v1} — {t2}:{v2} ({sources}, first {first}) was {state}."
        )
    for table in ("idstitch_limit_violations", "idstitch_skipped_aliases"):
        if table not in m.tables:
            continue
        for source, event_id, t, v, rid, reason in m.tuples(
            f"""select source, event_id, id_type, id_value, rudder_id, reason from {{{table}}}
                where rudder_id in ({a}, {b}) or ({_is(m, "", e.a.node)})
                   or ({_is(m, "", e.b.node)})
                order by source, event_id, id_type, id_value limit 5"""
        ):
            e.reasons.append(
                f"{table}: event {source}/{event_id} did not add {t}:{v} to profile {rid} "
                f"({reason})."
            )
    _period_refusals(m, e, config, a, b)
    if "idstitch_rejected_identifiers" in m.tables:
        for t, value, reason, n in m.tuples(
            f"""select ri.id_type, lower(trim(ri.raw_value)) as rejected_value, ri.reason,
                      count(*) as n
               from {{idstitch_rejected_identifiers}} as ri
               inner join {{rudder_identified_events}} as ie
                   on ri.source = ie.source and ri.event_id = ie.event_id
               where ie.rudder_id in ({a}, {b})
               group by ri.id_type, lower(trim(ri.raw_value)), ri.reason
               having count(distinct ie.rudder_id) = 2
               order by n desc, ri.id_type, rejected_value, ri.reason limit 5"""
        ):
            e.reasons.append(
                f"events of both profiles carried {t} `{value}`, rejected as {reason} "
                f"({n} values): a rejected value links nothing."
            )
    if not rules:
        e.reasons.append(
            "No accepted event carried an identifier of each profile, so no merge rule joins them."
        )


def explain(
    path: Path | None,
    first: str,
    second: str,
    config: Config,
    schema: str = SCHEMA,
    project: DbtProject | None = None,
) -> Explanation:
    """Explain two identifiers from the DuckDB file `path`, or, when `path` is None, from the
    tables of `project`'s dbt target, read through its adapter."""
    a_node, b_node = parse_identifier(first, config), parse_identifier(second, config)
    m: Marts
    if path is not None:
        m = DuckDBMarts(path, schema)
    elif project is not None:
        m = AdapterMarts(project)
    else:
        raise ExplainError("explain needs a DuckDB file or a dbt project with a target")
    try:
        if "rudder_identity_mappings" not in m.tables:
            raise ExplainError(f"{m.where} has no idstitch marts; build it with `idstitch run`")
        e = Explanation(_find(m, a_node, config), _find(m, b_node, config))
        for f in (e.a, e.b):
            if f.rudder_id is not None:
                e.profiles[f.rudder_id] = _profile(m, f.rudder_id)
        if e.same_profile:
            assert e.a.rudder_id is not None
            here = a_node
            for x, y in _shortest_path(m, a_node, b_node, e.a.rudder_id):
                hop = _evidence(m, (x, y), forward=x == here)
                e.path.append(hop)
                here = hop.b
        else:
            _why_apart(m, e, config)
    finally:
        m.close()
    return e


def print_explanation(console: Console, e: Explanation) -> None:
    a = f"{e.a.node[0]}:{e.a.node[1]}"
    b = f"{e.b.node[0]}:{e.b.node[1]}"
    if e.same_profile:
        p = e.profiles[e.a.rudder_id or ""]
        hops = len(e.path)
        console.print(
            f"[bold green]same profile[/bold green] {p['rudder_id']} "
            f"(primary {p.get('primary_id')}, {p.get('identifier_count')} identifiers): "
            f"{a} and {b} are joined by {hops} hop{'s' if hops != 1 else ''}",
            highlight=False,
        )
        for i, h in enumerate(e.path, 1):
            where = f"{h.source or '?'} event {h.event_id}" if h.event_id else (h.source or "?")
            console.print(
                f"  {i}. {h.a[0]}:{h.a[1]} ── {h.b[0]}:{h.b[1]}\n"
                f"     {where} at {h.occurred_at} ({h.events} event{'s' if h.events != 1 else ''}"
                " carried this pair)",
                highlight=False,
            )
        return
    console.print(f"[bold yellow]not in one profile[/bold yellow]: {a} and {b}", highlight=False)
    for f in (e.a, e.b):
        if f.rudder_id is not None:
            p = e.profiles[f.rudder_id]
            console.print(
                f"  {f.node[0]}:{f.node[1]} → {f.rudder_id} (primary {p.get('primary_id')}, "
                f"{p.get('identifier_count')} identifiers)",
                highlight=False,
            )
    for reason in e.reasons:
        console.print(f"  • {reason}", highlight=False)
