"""The reference semantics of idstitch, one event at a time, in pure Python (CONTRACT §1–§4).

The SQL computes the same result set-based; the property tests require the two to agree
exactly. This module favours obviousness over speed: it is the definition, not the engine.

Input: the configuration and, per source name, the raw rows as dicts (column -> value).
Output: the rows of the output tables, as plain tuples keyed the way the tables are.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from idstitch.config import Config, Source
from idstitch.normalize import normalize_value, reject_reason, trim

Node = tuple[str, str]  # (id_type, normalized value)

FINGERPRINT_SEPARATOR = "\x1f"
FINGERPRINT_NULL = "\x1e"


def rudder_id_of(node: Node) -> str:
    """md5 hex of ``id_type:id_value``: the rudder_id a profile takes from its earliest node."""
    return hashlib.md5(f"{node[0]}:{node[1]}".encode()).hexdigest()


def _as_string(value: Any) -> str | None:
    return None if value is None else str(value)


def _as_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Cell:
    """One identifier cell of a raw row."""

    role: str  # identifier | alias | pair
    id_type: str | None  # None: a pair whose type column is null
    raw_value: str


@dataclass
class Copy:
    """One distinct copy of an event as it arrived."""

    source: str
    event_id: str | None
    occurred_at: datetime | None
    has_raw_occurred_at: bool
    fingerprint: str
    cells: tuple[Cell, ...]
    traits: tuple[tuple[str, str], ...]


@dataclass
class MappingRow:
    rudder_id: str
    first_seen_at: datetime
    last_seen_at: datetime
    source_count: int
    event_count: int
    is_shared: bool = False


@dataclass
class EdgeRow:
    first_seen_at: datetime
    last_seen_at: datetime
    event_count: int
    sources: str
    applied: bool = True
    skip_reason: str | None = None


@dataclass
class ProfileRow:
    primary_id_type: str
    primary_id_value: str
    identifier_count: int
    first_seen_at: datetime
    last_seen_at: datetime
    traits: dict[str, str | None]


@dataclass
class Result:
    mappings: dict[Node, MappingRow] = field(default_factory=dict)
    merge_rules: dict[tuple[str, str, str, str], EdgeRow] = field(default_factory=dict)
    profiles: dict[str, ProfileRow] = field(default_factory=dict)
    identified_events: dict[tuple[str, str], tuple[datetime, str]] = field(default_factory=dict)
    rejected_events: Counter[tuple[str, str | None, datetime | None, str]] = field(
        default_factory=Counter
    )
    rejected_identifiers: set[tuple[str, str, str | None, str, str]] = field(default_factory=set)


def _fingerprint(values: Sequence[str | None]) -> str:
    text = FINGERPRINT_SEPARATOR.join(FINGERPRINT_NULL if v is None else v for v in values)
    return hashlib.md5(text.encode()).hexdigest()


def _read_copy(source: Source, row: Mapping[str, Any]) -> Copy:
    raw_event_id = _as_string(row.get(source.event_id))
    event_id = trim(raw_event_id) if raw_event_id is not None else None
    raw_time = row.get(source.occurred_at)
    cells: list[Cell] = []
    for role, columns in (("identifier", source.identifiers), ("alias", source.aliases)):
        for c in columns:
            value = _as_string(row.get(c.column))
            if value is not None:
                cells.append(Cell(role, c.id_type, value))
    for p in source.pairs:
        value = _as_string(row.get(p.value_column))
        if value is not None:
            type_name = _as_string(row.get(p.type_column))
            id_type = trim(type_name).lower() if type_name is not None else None
            cells.append(Cell("pair", id_type, value))
    traits = tuple((t, str(row[t])) for t in source.traits if row.get(t) is not None)
    return Copy(
        source=source.name,
        event_id=event_id or None,
        occurred_at=_as_time(raw_time),
        has_raw_occurred_at=raw_time is not None,
        fingerprint=_fingerprint([_as_string(row.get(c)) for c in source.columns]),
        cells=tuple(cells),
        traits=traits,
    )


@dataclass
class _Event:
    copy: Copy
    nodes: list[Node]  # valid identifiers, each once, in priority then value order


class _Profiles:
    """Union-find over nodes; a profile's representative is its earliest node."""

    def __init__(self, config: Config) -> None:
        self.priority = {t.name: t.priority for t in config.id_types}
        self.parent: dict[Node, Node] = {}
        self.first_seen: dict[Node, datetime] = {}

    def order_key(self, node: Node) -> tuple[datetime, int, str]:
        return (self.first_seen[node], self.priority[node[0]], node[1])

    def add(self, node: Node, at: datetime) -> None:
        if node not in self.parent:
            self.parent[node] = node
            self.first_seen[node] = at

    def find(self, node: Node) -> Node:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: Node, b: Node) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        # the older profile absorbs the newer one and keeps its id
        if self.order_key(rb) < self.order_key(ra):
            ra, rb = rb, ra
        self.parent[rb] = ra


def _accept_copies(config: Config, copies: Iterable[Copy], result: Result) -> list[_Event]:
    """Event-level checks and identifier validation; returns the accepted events in order."""
    types = config.types_by_name
    by_key: dict[tuple[str, str], list[Copy]] = defaultdict(list)
    for c in copies:
        if c.event_id is None:
            result.rejected_events[(c.source, None, c.occurred_at, "missing_event_id")] += 1
        else:
            by_key[(c.source, c.event_id)].append(c)

    accepted: list[_Event] = []
    for group in by_key.values():
        group.sort(
            key=lambda c: (
                c.occurred_at is None,
                c.occurred_at or datetime.min,
                not c.has_raw_occurred_at,
                c.fingerprint,
            )
        )
        first, later = group[0], group[1:]
        for c in later:
            result.rejected_events[(c.source, c.event_id, c.occurred_at, "duplicate_event_id")] += 1
        if first.occurred_at is None:
            reason = "invalid_occurred_at" if first.has_raw_occurred_at else "missing_occurred_at"
            result.rejected_events[(first.source, first.event_id, None, reason)] += 1
            continue
        assert first.event_id is not None
        nodes: set[Node] = set()
        for cell in first.cells:
            trimmed = trim(cell.raw_value)
            if trimmed == "":
                continue
            id_type = types.get(cell.id_type) if cell.id_type is not None else None
            if id_type is None:
                reason = "unknown_type"
            else:
                normalized = normalize_value(
                    id_type.normalize, trimmed, config.default_phone_country_code
                )
                reason = reject_reason(
                    id_type.normalize, trimmed, normalized, (config.blocked, id_type.blocked)
                )
            if reason is not None:
                result.rejected_identifiers.add(
                    (first.source, first.event_id, cell.id_type, cell.raw_value, reason)
                )
            elif cell.role != "alias":
                nodes.add((cell.id_type, normalized))
        if not nodes:
            result.rejected_events[
                (first.source, first.event_id, first.occurred_at, "no_valid_identifier")
            ] += 1
            continue
        ordered = sorted(nodes, key=lambda n: (types[n[0]].priority, n[1]))
        accepted.append(_Event(first, ordered))
    accepted.sort(key=lambda e: (e.copy.occurred_at, e.copy.source, e.copy.event_id))
    return accepted


def stitch(config: Config, rows_by_source: Mapping[str, Iterable[Mapping[str, Any]]]) -> Result:
    """Apply every event in (occurred_at, source, event_id) order; return the output tables."""
    result = Result()
    copies: dict[tuple[Any, ...], Copy] = {}
    for source in config.sources:
        for row in rows_by_source.get(source.name, ()):
            c = _read_copy(source, row)
            key = (c.source, c.event_id, c.occurred_at, c.has_raw_occurred_at, c.fingerprint)
            copies.setdefault(key, c)  # identical copies count once
    events = _accept_copies(config, copies.values(), result)

    profiles = _Profiles(config)
    edge_events: dict[tuple[Node, Node], list[_Event]] = defaultdict(list)
    for event in events:
        at = event.copy.occurred_at
        assert at is not None
        anchor, others = event.nodes[0], event.nodes[1:]
        for node in event.nodes:
            profiles.add(node, at)
        for node in others:  # strategy `merge`: every other identifier joins the anchor
            edge_events[(anchor, node)].append(event)
            profiles.union(anchor, node)

    # node statistics and rudder_ids
    seen: dict[Node, list[_Event]] = defaultdict(list)
    for event in events:
        for node in event.nodes:
            seen[node].append(event)
    for node, node_events in seen.items():
        times = [e.copy.occurred_at for e in node_events if e.copy.occurred_at is not None]
        result.mappings[node] = MappingRow(
            rudder_id=rudder_id_of(profiles.find(node)),
            first_seen_at=min(times),
            last_seen_at=max(times),
            source_count=len({e.copy.source for e in node_events}),
            event_count=len(node_events),
        )
    for (a, b), evs in edge_events.items():
        times = [e.copy.occurred_at for e in evs if e.copy.occurred_at is not None]
        result.merge_rules[(a[0], a[1], b[0], b[1])] = EdgeRow(
            first_seen_at=min(times),
            last_seen_at=max(times),
            event_count=len(evs),
            sources=",".join(sorted({e.copy.source for e in evs})),
        )
    for event in events:
        assert event.copy.event_id is not None and event.copy.occurred_at is not None
        result.identified_events[(event.copy.source, event.copy.event_id)] = (
            event.copy.occurred_at,
            result.mappings[event.nodes[0]].rudder_id,
        )
    _build_profiles(config, events, profiles, result)
    return result


def _build_profiles(
    config: Config, events: Sequence[_Event], profiles: _Profiles, result: Result
) -> None:
    members: dict[str, list[Node]] = defaultdict(list)
    for node, row in result.mappings.items():
        members[row.rudder_id].append(node)
    latest: dict[str, dict[str, str]] = defaultdict(dict)
    for event in events:  # in order, so later values overwrite earlier ones
        rid = result.mappings[event.nodes[0]].rudder_id
        for name, value in event.copy.traits:
            latest[rid][name] = value
    for rid, nodes in members.items():
        primary = min(
            nodes,
            key=lambda n: (profiles.priority[n[0]], result.mappings[n].first_seen_at, n[1]),
        )
        result.profiles[rid] = ProfileRow(
            primary_id_type=primary[0],
            primary_id_value=primary[1],
            identifier_count=len(nodes),
            first_seen_at=min(result.mappings[n].first_seen_at for n in nodes),
            last_seen_at=max(result.mappings[n].last_seen_at for n in nodes),
            traits={t: latest[rid].get(t) for t in config.trait_names},
        )
