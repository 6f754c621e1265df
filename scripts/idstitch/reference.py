"""The semantics of idstitch, one event at a time, in pure Python (docs/semantics.md §1–§4).

The SQL computes the same result set-based; the property tests require the two to agree
exactly. This module favours obviousness over speed: it is the definition, not the engine.

Input: the configuration and, per source name, the raw rows as dicts (column -> value).
Output: the rows of the output tables, as plain tuples keyed the way the tables are.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from idstitch.config import MANUAL_STRATEGY, Config, Source, manual_merges_source
from idstitch.normalize import normalize_value, reject_reason, trim

Node = tuple[str, str]  # (id_type, normalized value)
NEVER_MERGE_SOURCE = "never_merge"

FINGERPRINT_SEPARATOR = "\x1f"
FINGERPRINT_NULL = "\x1e"


def rudder_id_of(node: Node) -> str:
    """md5 hex of ``id_type:id_value``: the rudder_id a profile takes from its earliest node."""
    return hashlib.md5(f"{node[0]}:{node[1]}".encode()).hexdigest()


def erasure_hash(id_type: str, value: str) -> str:
    """The hash an erasure request names a value by (docs/semantics.md §3c): lowercase hex md5
    of ``id_type:value``, the value already normalized; the same text a rudder_id hashes."""
    return rudder_id_of((id_type, value))


ERASURE_SCOPES = ("identifier", "profile")
ERASED = "erased"  # the reason of the rows an erasure leaves (docs/semantics.md §3c)


@dataclass(frozen=True)
class Erasure:
    """One erasure request, read: the hash of the value it names and its scope."""

    erasure_id: str
    hash: str
    scope: str  # identifier | profile
    value: str | None = None  # the normalized value, when the request gives one


_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")


def read_erasures(config: Config, rows: Iterable[Mapping[str, Any]]) -> list[Erasure]:
    """The rows of the `erasures` relation as requests (docs/semantics.md §3c).

    A request names a value by `id_hash` (32 hex digits, any case) or, without one, by `id_type`
    and `id_value` (normalized as an identifier of that type). A row that cannot be applied
    raises a ValueError naming its `erasure_id`: no erasure_id, neither a hash nor a value, a
    hash that is not 32 hex digits, a value of an unknown type, or an unknown scope. The checks
    of §1 (length, blocked values, shape) do not apply to the value: a request for a value that
    never validates matches nothing that is kept.
    """
    out = []
    for row in rows:
        erasure_id = _as_string(row.get("erasure_id"))
        if erasure_id is None or not trim(erasure_id):
            raise ValueError("an erasure request has no erasure_id")
        erasure_id = trim(erasure_id)
        name = f"erasure request `{erasure_id}`"
        scope_text = _as_string(row.get("scope"))
        scope = (trim(scope_text).lower() if scope_text is not None else "") or "identifier"
        if scope not in ERASURE_SCOPES:
            raise ValueError(
                f"{name}: unknown scope `{scope_text}`; expected identifier or profile"
            )
        raw_value = _as_string(row.get("id_value"))
        value = trim(raw_value) if raw_value is not None else ""
        raw_hash = _as_string(row.get("id_hash"))
        given_hash = trim(raw_hash).lower() if raw_hash is not None else ""
        normalized: str | None = None
        if given_hash:
            if not _MD5_HEX.match(given_hash):
                raise ValueError(
                    f"{name}: id_hash `{raw_hash}` is not 32 hex digits (md5 of `type:value`)"
                )
            h = given_hash
        elif value:
            type_text = _as_string(row.get("id_type"))
            type_name = trim(type_text).lower() if type_text is not None else ""
            id_type = config.types_by_name.get(type_name)
            if id_type is None:
                raise ValueError(
                    f"{name}: unknown id_type `{type_text}` for its id_value; configured types "
                    "are: " + ", ".join(config.types_by_name)
                )
            normalized = normalize_value(
                id_type.normalize, value, config.default_phone_country_code
            )
            h = erasure_hash(id_type.name, normalized)
        else:
            raise ValueError(f"{name}: gives neither an id_hash nor an id_value with its id_type")
        out.append(Erasure(erasure_id, h, scope, normalized))
    return out


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


SkipRow = tuple[str, str, str, str, str, str, str | None]
"""(source, event_id, id_type, id_value, rudder_id, reason, limit_type)"""


@dataclass
class Result:
    mappings: dict[Node, MappingRow] = field(default_factory=dict)
    merge_rules: dict[tuple[str, str, str, str], EdgeRow] = field(default_factory=dict)
    profiles: dict[str, ProfileRow] = field(default_factory=dict)
    identified_events: dict[tuple[str, str], tuple[datetime, str]] = field(default_factory=dict)
    rejected_events: Counter[tuple[str, str | None, datetime | None, str]] = field(
        default_factory=Counter
    )
    rejected_identifiers: set[tuple[str, str, str | None, str | None, str]] = field(
        default_factory=set
    )
    limit_violations: set[SkipRow] = field(default_factory=set)
    skipped_aliases: set[SkipRow] = field(default_factory=set)
    shared_identifiers: set[tuple[str, str, str, int]] = field(default_factory=set)


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
    strategy: str
    ids: list[Node]  # valid identifiers, each once, in priority then value order
    aliases: list[Node]  # valid aliases that are not also identifiers, same order
    shared: list[Node] = field(default_factory=list)  # shared values it carried (§3a)

    @property
    def time(self) -> datetime:
        assert self.copy.occurred_at is not None
        return self.copy.occurred_at

    @property
    def key(self) -> tuple[str, str]:
        assert self.copy.event_id is not None
        return (self.copy.source, self.copy.event_id)


def normalize_identifier(
    config: Config, type_name: str | None, raw_value: str
) -> tuple[Node | None, str | None]:
    """(node, None) for a valid value, (None, reason) for a rejected one, (None, None) if blank."""
    trimmed = trim(raw_value)
    if trimmed == "":
        return None, None
    id_type = config.types_by_name.get(type_name) if type_name is not None else None
    if id_type is None:
        return None, "unknown_type"
    normalized = normalize_value(id_type.normalize, trimmed, config.default_phone_country_code)
    reason = reject_reason(
        id_type.normalize, trimmed, normalized, (config.blocked, id_type.blocked)
    )
    return (None, reason) if reason is not None else ((id_type.name, normalized), None)


def cell_hash(config: Config, type_name: str | None, raw_value: str) -> str | None:
    """The erasure hash of a cell's value, normalized by its type (docs/semantics.md §3c),
    whether or not the value is valid; None when it is blank or its type is not configured."""
    trimmed = trim(raw_value)
    id_type = config.types_by_name.get(type_name) if type_name is not None else None
    if trimmed == "" or id_type is None:
        return None
    normalized = normalize_value(id_type.normalize, trimmed, config.default_phone_country_code)
    return erasure_hash(id_type.name, normalized)


def _erased_row(
    source: str, key: str, type_name: str | None
) -> tuple[str, str, str | None, str | None, str]:
    """The rejected-identifier row an erased observation leaves: no value (§3c)."""
    return (source, key, type_name, None, ERASED)


def _never_merge_pairs(
    config: Config, rows: Iterable[Mapping[str, Any]], result: Result, erased: frozenset[str]
) -> list[tuple[Node, Node]]:
    """The never-merge seed, normalized; rejected values get rows like event identifiers, and
    an erased side (docs/semantics.md §3c) drops the pair."""
    pairs = []
    for row in rows:
        pair_id = str(row["pair_id"])
        nodes = []
        for k in (1, 2):
            type_name = _as_string(row.get(f"id{k}_type"))
            type_name = trim(type_name).lower() if type_name is not None else None
            raw = _as_string(row.get(f"id{k}_value"))
            if raw is None:
                continue
            if cell_hash(config, type_name, raw) in erased:
                result.rejected_identifiers.add(_erased_row(NEVER_MERGE_SOURCE, pair_id, type_name))
                continue
            node, reason = normalize_identifier(config, type_name, raw)
            if reason is not None:
                result.rejected_identifiers.add(
                    (NEVER_MERGE_SOURCE, pair_id, type_name, raw, reason)
                )
            elif node is not None:
                nodes.append(node)
        if len(nodes) == 2 and nodes[0] != nodes[1]:
            pairs.append((nodes[0], nodes[1]))
    return pairs


def _accept_copies(
    config: Config,
    copies: Iterable[Copy],
    result: Result,
    erased: frozenset[str] = frozenset(),
    erased_events: frozenset[str] = frozenset(),
) -> list[_Event]:
    """Event-level checks and identifier validation; returns the accepted events in order.

    ``erased`` holds the hashes of erased values: each observation of one is dropped before
    its checks and leaves a row `erased` without its value. An event that carries a valid value
    whose hash is in ``erased_events`` (the values of an erased profile) is rejected `erased`,
    after the duplicate check and before `no_valid_identifier`; of its identifiers only the
    erased ones leave rows (docs/semantics.md §3c)."""
    types = config.types_by_name
    strategies = {s.name: s.strategy for s in config.sources}
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
        alias_nodes: set[Node] = set()
        erased_rows, rejected_rows = set(), set()
        carries_erased_profile = False
        for cell in first.cells:
            h = cell_hash(config, cell.id_type, cell.raw_value)
            found, why = normalize_identifier(config, cell.id_type, cell.raw_value)
            if found is not None and h in erased_events:
                carries_erased_profile = True
            if h is not None and h in erased:
                erased_rows.add(_erased_row(first.source, first.event_id, cell.id_type))
            elif why is not None:
                rejected_rows.add((first.source, first.event_id, cell.id_type, cell.raw_value, why))
            elif found is not None:
                (alias_nodes if cell.role == "alias" else nodes).add(found)
        result.rejected_identifiers |= erased_rows
        if carries_erased_profile:
            result.rejected_events[(first.source, first.event_id, first.occurred_at, ERASED)] += 1
            continue
        result.rejected_identifiers |= rejected_rows
        if not nodes:
            result.rejected_events[
                (first.source, first.event_id, first.occurred_at, "no_valid_identifier")
            ] += 1
            continue

        def order(n: Node) -> tuple[int, str]:
            return (types[n[0]].priority, n[1])

        accepted.append(
            _Event(
                first,
                strategies.get(first.source, MANUAL_STRATEGY),
                sorted(nodes, key=order),
                sorted(alias_nodes - nodes, key=order),
            )
        )
    accepted.sort(key=lambda e: (e.copy.occurred_at, e.copy.source, e.copy.event_id))
    return accepted


class _State:
    """Profiles as a union-find over the nodes that exist, with their per-type counts, and each
    node's last observation (for limits over a period, docs/semantics.md §3b)."""

    def __init__(self, config: Config, never_merge: Iterable[tuple[Node, Node]]) -> None:
        self.types = config.types_by_name
        self.limits = {t.name: t.limit for t in config.id_types if t.limit is not None}
        # the limited types with a period: name -> how long a value counts after last seen
        self.windows: dict[str, timedelta] = {
            t.name: w
            for t in config.id_types
            if t.limit is not None and (w := t.limit_window) is not None
        }
        self.priority = {t.name: t.priority for t in config.id_types}
        # node -> time of the latest event so far that touched it (the events that count in
        # its event_count and last_seen_at); updated by `stitch` after each event
        self.last_seen: dict[Node, datetime] = {}
        self.parent: dict[Node, Node] = {}
        self.first_seen: dict[Node, datetime] = {}
        self.members: dict[Node, set[Node]] = {}  # root -> nodes of the profile
        self.counts: dict[Node, Counter[str]] = {}  # root -> nodes per type
        self.never: dict[Node, set[Node]] = defaultdict(set)
        for a, b in never_merge:
            self.never[a].add(b)
            self.never[b].add(a)

    def exists(self, node: Node) -> bool:
        return node in self.parent

    def find(self, node: Node) -> Node:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def order_key(self, node: Node) -> tuple[datetime, int, str]:
        return (self.first_seen[node], self.priority[node[0]], node[1])

    def create(self, node: Node, at: datetime) -> None:
        self.parent[node] = node
        self.first_seen[node] = at
        self.members[node] = {node}
        self.counts[node] = Counter({node[0]: 1})

    def _group_counts(self, group: set[Node]) -> Counter[str]:
        if group and self.exists(next(iter(group))):
            root = self.find(next(iter(group)))
            if self.members[root] is group:
                return self.counts[root]
        return Counter(n[0] for n in group)

    def blocks(
        self,
        group_a: set[Node],
        group_b: set[Node],
        forced: bool = False,
        at: datetime | None = None,
        own: frozenset[Node] = frozenset(),
    ) -> tuple[str, str | None] | None:
        """Why two disjoint groups of nodes may not form one profile, or None.

        ``group_a`` is a valid profile (or empty); ``group_b`` is a profile or new nodes.
        A never-merge pair blocks any group holding both its nodes; limits do not bind a
        forced (manual) merge. A type limited `ever` counts every value of the resulting
        group; a type limited over a period counts only the values in its window at ``at``,
        the current event's time: the event's ``own`` identifiers and aliases, and the values
        last seen strictly after ``at`` minus the period (docs/semantics.md §3b). The first
        type over its limit, in priority order, is named.
        """
        for n in group_b:
            partners = self.never.get(n)
            if partners and any(p in group_a or p in group_b for p in partners):
                return ("never_merge", None)
        if not forced and self.limits:
            a, b = self._group_counts(group_a), self._group_counts(group_b)
            for name in sorted(self.limits, key=self.priority.__getitem__):
                if a[name] + b[name] <= self.limits[name]:
                    continue  # within the limit even counting every value
                window = self.windows.get(name)
                if (
                    window is None
                    or self._in_window(name, (group_a, group_b), at, window, own)
                    > self.limits[name]
                ):
                    return ("limit_exceeded", name)
        return None

    def _in_window(
        self,
        name: str,
        groups: tuple[set[Node], ...],
        at: datetime | None,
        window: timedelta,
        own: frozenset[Node],
    ) -> int:
        """How many values of type ``name`` in ``groups`` count toward its limit at ``at``: the
        event's own items, and the values last seen within the window (docs/semantics.md §3b)."""
        assert at is not None, "a limit over a period needs the event's time"
        cutoff = at - window
        return sum(
            1
            for group in groups
            for v in group
            if v[0] == name and (v in own or (v in self.last_seen and self.last_seen[v] > cutoff))
        )

    def profile(self, node: Node) -> set[Node]:
        return self.members[self.find(node)] if self.exists(node) else {node}

    def union(self, a: Node, b: Node) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.order_key(rb) < self.order_key(ra):  # the older profile keeps its id
            ra, rb = rb, ra
        self.parent[rb] = ra
        kept, gone = self.members.pop(ra), self.members.pop(rb)
        if len(kept) < len(gone):  # grow the larger set: linear time overall
            kept, gone = gone, kept
        kept |= gone
        self.members[ra] = kept
        self.counts[ra] = self.counts.pop(ra) + self.counts.pop(rb)

    def attach(self, node: Node, to: Node, at: datetime) -> None:
        self.create(node, at)
        self.union(to, node)


@dataclass
class _Outcome:
    """What one event did: its anchor, the nodes it touched, the links it asked for."""

    anchor: Node
    touched: list[Node] = field(default_factory=list)
    # (other node, applied, reason, limit_type, kind): kind is violation | skipped_alias | none
    links: list[tuple[Node, bool, str | None, str | None, str]] = field(default_factory=list)
    rejected: str | None = None


def _shared_values(config: Config, events: Sequence[_Event], result: Result) -> set[Node]:
    """docs/semantics.md §3a, order-free: a T value with `shared_after: {U: n}` is shared when
    the events that carry it carry, between them, more than n distinct values of type U."""
    rules = [(t.name, u, n) for t in config.id_types for u, n in t.shared_after.items()]
    if not rules:
        return set()
    linked: dict[tuple[Node, str], set[str]] = defaultdict(set)
    for event in events:
        values = [*event.ids, *event.aliases]
        for node in values:
            for other in values:
                if other != node:
                    linked[(node, other[0])].add(other[1])
    shared = set()
    for t, u, n in rules:
        for (node, other_type), others in linked.items():
            if node[0] == t and other_type == u and len(others) > n:
                shared.add(node)
                result.shared_identifiers.add((node[0], node[1], u, len(others)))
    return shared


def _set_shared_aside(events: Sequence[_Event], shared: set[Node]) -> None:
    """Shared values never link: they leave every event's identifiers and aliases."""
    for event in events:
        event.shared = [n for n in [*event.ids, *event.aliases] if n in shared]
        event.ids = [n for n in event.ids if n not in shared]
        event.aliases = [n for n in event.aliases if n not in shared]


def _first_existing(state: _State, ids: Sequence[Node]) -> Node:
    return next((n for n in ids if state.exists(n)), ids[0])


def _add_alias_like(
    state: _State, out: _Outcome, x: Node, at: datetime, own: frozenset[Node]
) -> None:
    """first_alias semantics for one identifier or alias: add if new, keep if ours, else skip.

    ``own`` is the event's identifiers and aliases (the values a period limit always counts)."""
    if state.exists(x):
        if state.find(x) == state.find(out.anchor):
            out.touched.append(x)
            out.links.append((x, True, None, None, "none"))
        else:
            out.links.append((x, False, "owned_by_other_profile", None, "skipped_alias"))
        return
    block = state.blocks(state.profile(out.anchor), {x}, at=at, own=own)
    if block is not None:
        out.links.append((x, False, block[0], block[1], "skipped_alias"))
        return
    state.attach(x, out.anchor, at)
    out.touched.append(x)
    out.links.append((x, True, None, None, "none"))


def _apply(state: _State, event: _Event) -> _Outcome:
    """Apply one event to the state (docs/semantics.md §3); return what it did."""
    at, ids = event.time, event.ids
    own = frozenset((*ids, *event.aliases))  # shared values are already set aside
    if event.strategy in ("merge", MANUAL_STRATEGY):
        forced = event.strategy == MANUAL_STRATEGY
        for n in ids:
            if not state.exists(n):
                state.create(n, at)
        out = _Outcome(ids[0], touched=list(ids))
        for x in ids[1:]:
            if state.find(x) == state.find(ids[0]):
                out.links.append((x, True, None, None, "none"))
                continue
            block = state.blocks(state.profile(ids[0]), state.profile(x), forced, at, own)
            if block is None:
                state.union(ids[0], x)
                out.links.append((x, True, None, None, "none"))
            else:
                out.links.append((x, False, block[0], block[1], "violation"))
    elif event.strategy in ("first", "first_alias"):
        anchor = _first_existing(state, ids)
        if not state.exists(anchor):
            state.create(anchor, at)
        out = _Outcome(anchor, touched=[anchor])
        if event.strategy == "first_alias":
            for x in ids:
                if x != anchor:
                    _add_alias_like(state, out, x, at, own)
    else:  # strict
        existing = [n for n in ids if state.exists(n)]
        roots = {state.find(n) for n in existing}
        anchor = existing[0] if existing else ids[0]
        out = _Outcome(anchor)
        if len(roots) > 1:
            out.rejected = "multiple_profiles_matched"
            return out
        new = {n for n in ids if not state.exists(n)}
        block = state.blocks(state.profile(anchor) if existing else set(), new, at=at, own=own)
        if block is not None:
            out.rejected = block[0]
            return out
        if not existing:
            state.create(anchor, at)
        for x in ids:
            if not state.exists(x):
                state.attach(x, anchor, at)
        out.touched = list(ids)
        out.links = [(x, True, None, None, "none") for x in ids if x != anchor]
    for a in event.aliases:  # aliases: best effort after resolution, as first_alias
        _add_alias_like(state, out, a, at, own)
    return out


def stitch(
    config: Config,
    rows_by_source: Mapping[str, Iterable[Mapping[str, Any]]],
    never_merge: Iterable[Mapping[str, Any]] = (),
    erasures: Iterable[Mapping[str, Any]] = (),
) -> Result:
    """Apply every event in (occurred_at, source, event_id) order; return the output tables.

    ``rows_by_source`` maps source names to raw rows; manual merges are the rows of source
    ``manual_merges`` (the var's `manual_merges` relation). ``never_merge`` holds the rows of
    the `never_merge` relation (pair_id, id1_type, id1_value, id2_type, id2_value), and
    ``erasures`` those of the `erasures` relation (erasure_id, requested_at, id_type, id_value,
    id_hash, scope), applied as docs/semantics.md §3c says:

    1. R1 is the result with the identifier-scope requests only (their values erased);
    2. E is, for each profile-scope request, its hash and, if it is a node of R1, the hash of
       every node of its profile in R1;
    3. the result erases the values of both kinds and rejects every event that carries a
       value of E.

    Raises ValueError (naming the erasure_id) for a request that cannot be applied.
    """
    requests = read_erasures(config, erasures)
    by_identifier = frozenset(r.hash for r in requests if r.scope == "identifier")
    never_merge = list(never_merge)
    rows = _listed(rows_by_source)  # read twice
    whole = _erased_profiles(config, rows, never_merge, requests)
    if whole is None:
        return _stitch(config, rows, never_merge, by_identifier)
    return _stitch(config, rows, never_merge, by_identifier | whole, whole)


def _listed(
    rows_by_source: Mapping[str, Iterable[Mapping[str, Any]]],
) -> dict[str, list[Mapping[str, Any]]]:
    return {name: list(rows) for name, rows in rows_by_source.items()}


def erased_profile_nodes(
    config: Config,
    rows_by_source: Mapping[str, Iterable[Mapping[str, Any]]],
    never_merge: Iterable[Mapping[str, Any]] = (),
    erasures: Iterable[Mapping[str, Any]] = (),
) -> list[Node]:
    """The nodes the profile-scope requests forget (docs/semantics.md §3c): every node of the
    profile that holds a requested value in R1, the result with the identifier-scope requests
    only. What a scan for leftovers looks for, beyond the requested values themselves."""
    requests = read_erasures(config, erasures)
    rows = _listed(rows_by_source)
    return sorted(_r1_profile_nodes(config, rows, list(never_merge), requests) or ())


def _r1_profile_nodes(
    config: Config,
    rows_by_source: Mapping[str, list[Mapping[str, Any]]],
    never_merge: list[Mapping[str, Any]],
    requests: list[Erasure],
) -> set[Node] | None:
    """The nodes of R1 in the profile of a value a profile-scope request names; None without
    such requests."""
    by_profile = {r.hash for r in requests if r.scope == "profile"}
    if not by_profile:
        return None
    by_identifier = frozenset(r.hash for r in requests if r.scope == "identifier")
    first = _stitch(config, rows_by_source, never_merge, by_identifier)
    profiles = {m.rudder_id for n, m in first.mappings.items() if rudder_id_of(n) in by_profile}
    return {n for n, m in first.mappings.items() if m.rudder_id in profiles}


def _erased_profiles(
    config: Config,
    rows_by_source: Mapping[str, list[Mapping[str, Any]]],
    never_merge: list[Mapping[str, Any]],
    requests: list[Erasure],
) -> frozenset[str] | None:
    """E of docs/semantics.md §3c: the requested hashes of scope profile and the hashes of the
    nodes of their profiles in R1; None without such requests."""
    nodes = _r1_profile_nodes(config, rows_by_source, never_merge, requests)
    if nodes is None:
        return None
    by_profile = {r.hash for r in requests if r.scope == "profile"}
    return frozenset(by_profile | {rudder_id_of(n) for n in nodes})


def _stitch(
    config: Config,
    rows_by_source: Mapping[str, Iterable[Mapping[str, Any]]],
    never_merge: Iterable[Mapping[str, Any]],
    erased: frozenset[str] = frozenset(),
    erased_events: frozenset[str] = frozenset(),
) -> Result:
    """The procedure of docs/semantics.md §1–§4 over the raw rows, with the values whose hash
    is in ``erased`` dropped and the events that carry one of ``erased_events`` rejected
    (§3c)."""
    result = Result()
    pairs = _never_merge_pairs(config, never_merge, result, erased)
    copies: dict[tuple[Any, ...], Copy] = {}
    for source in (*config.sources, manual_merges_source(config)):
        for row in rows_by_source.get(source.name, ()):
            c = _read_copy(source, row)
            key = (c.source, c.event_id, c.occurred_at, c.has_raw_occurred_at, c.fingerprint)
            copies.setdefault(key, c)  # identical copies count once
    events = _accept_copies(config, copies.values(), result, erased, erased_events)

    shared = _shared_values(config, events, result)
    shared_ids = {e.key: [n for n in e.ids if n in shared] for e in events}
    _set_shared_aside(events, shared)

    state = _State(config, pairs)
    for event in events:  # a shared value is a node, and a profile, of its own
        for node in event.shared:
            if not state.exists(node):
                state.create(node, event.time)
    outcomes: list[tuple[_Event, _Outcome]] = []
    for event in events:
        if not event.ids:  # only shared identifiers: identified to the first of them
            outcomes.append((event, _Outcome(shared_ids[event.key][0])))
            continue
        outcome = _apply(state, event)
        for node in outcome.touched:  # the observations a period limit looks back on (§3b)
            state.last_seen[node] = event.time
        if outcome.rejected is not None:
            result.rejected_events[(*event.key, event.time, outcome.rejected)] += 1
        else:
            outcomes.append((event, outcome))

    def rudder(node: Node) -> str:
        return rudder_id_of(state.find(node))  # a profile's root is its earliest node

    touched: dict[Node, list[_Event]] = defaultdict(list)
    for event in events:  # a shared node's statistics: every accepted event that carried it
        for node in event.shared:
            touched[node].append(event)
    edges: dict[tuple[Node, Node], list[tuple[_Event, bool, str | None]]] = defaultdict(list)
    for event, out in outcomes:
        for node in dict.fromkeys(out.touched):
            touched[node].append(event)
        anchor_rid = rudder(out.anchor)
        for x, applied, reason, limit_type, kind in out.links:
            edges[(out.anchor, x)].append((event, applied, reason))
            if kind != "none":
                assert reason is not None
                skip: SkipRow = (*event.key, x[0], x[1], anchor_rid, reason, limit_type)
                target = result.limit_violations if kind == "violation" else result.skipped_aliases
                target.add(skip)
        result.identified_events[event.key] = (event.time, anchor_rid)

    for node, node_events in touched.items():
        result.mappings[node] = MappingRow(
            rudder_id=rudder(node),
            first_seen_at=state.first_seen[node],
            last_seen_at=max(e.time for e in node_events),
            source_count=len({e.copy.source for e in node_events}),
            event_count=len(node_events),
            is_shared=node in shared,
        )
    for (a, b), occurrences in edges.items():
        applied = any(ok for _, ok, _ in occurrences)
        first_skip = next((r for _, ok, r in occurrences if not ok), None)
        result.merge_rules[(a[0], a[1], b[0], b[1])] = EdgeRow(
            first_seen_at=min(e.time for e, _, _ in occurrences),
            last_seen_at=max(e.time for e, _, _ in occurrences),
            event_count=len(occurrences),
            sources=",".join(sorted({e.copy.source for e, _, _ in occurrences})),
            applied=applied,
            skip_reason=None if applied else first_skip,
        )
    _build_profiles(config, outcomes, state, result)
    return result


def _build_profiles(
    config: Config,
    outcomes: Sequence[tuple[_Event, _Outcome]],
    state: _State,
    result: Result,
) -> None:
    members: dict[str, list[Node]] = defaultdict(list)
    for node, row in result.mappings.items():
        members[row.rudder_id].append(node)
    latest: dict[str, dict[str, str]] = defaultdict(dict)
    for event, _ in outcomes:  # in order, so later values overwrite earlier ones
        rid = result.identified_events[event.key][1]
        for name, value in event.copy.traits:
            latest[rid][name] = value
    for rid, nodes in members.items():
        primary = min(
            nodes,
            key=lambda n: (state.priority[n[0]], result.mappings[n].first_seen_at, n[1]),
        )
        result.profiles[rid] = ProfileRow(
            primary_id_type=primary[0],
            primary_id_value=primary[1],
            identifier_count=len(nodes),
            first_seen_at=min(result.mappings[n].first_seen_at for n in nodes),
            last_seen_at=max(result.mappings[n].last_seen_at for n in nodes),
            traits={t: latest[rid].get(t) for t in config.trait_names},
        )
