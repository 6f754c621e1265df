"""`idstitch audit`: check a build's marts against docs/semantics.md, look for over-merging.

Four kinds of findings:

- **invariants** (docs/semantics.md): one rudder_id per node; both ends of an applied rule in one
  profile; every input event identified or rejected, never both; no profile over a type's
  `limit` (unless a manual merge, which limits do not bind, joined it); each rudder_id the
  md5 of its profile's earliest node. Any failure fails the audit.

  Limits over a period (docs/semantics.md §3b) are not part of that invariant: a profile may
  rightly hold more values of such a type than its count, as long as no more than the count
  were in the window at any union. The marts keep only each node's first and last observation,
  not when it joined its profile nor its observations in between, so no count over them must
  hold: values first seen at one time, in different profiles, may be joined weeks later when
  none of them is in the window any more. The replay (below) applies the period rule exactly to
  the sampled profiles, so a period limit is checked there, on the sample.
- **replay**: a seeded sample of profiles, rebuilt with `idstitch.reference.stitch` from the raw
  rows of every event that can influence them (rules bind across profiles, so the replay takes
  the whole partition, the component of the unconstrained graph, from the observation index;
  and the other events that carry its shared identifiers); the nodes, their statistics and
  rudder_id, and the events must equal the warehouse's. A difference fails the audit. Only
  global tables are read (marts and index), so an incremental build is audited whole.
- **signals** of over-merging, for a human to read: the profile size distribution, the largest
  profiles, the identifiers with the most edges (super-nodes), values that look like placeholders
  but are not blocked, and the rejects by reason and source.
- **ground truth** (with `--truth`): pairwise precision, recall and F1 of the stitching over
  accepted events (see :class:`TruthMetrics`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from idstitch.config import (
    Config,
    Source,
    load_project_config,
    manual_merges_source,
    parse_config,
)
from idstitch.marts import AdapterMarts, DuckDBMarts, Marts, Relation
from idstitch.reference import Erasure, read_erasures, stitch
from idstitch.runner import PROJECT_DIR, DbtError, DbtProject

SCHEMA = "idstitch"
EXAMPLES = 5  # offending rows shown per failed check

# values people type when a form insists: a word of this list, maybe with digits, maybe as the
# local part of an email address. Real identifiers rarely are one of these words.
PLACEHOLDER_WORDS = (
    "test|testing|tester|unknown|none|null|nil|na|n/a|guest|default|user|admin|anonymous|"
    "undefined|noemail|no-email|noreply|no-reply|dummy|fake|sample|example|asdf|qwerty|abc|xxx"
)
PLACEHOLDER_RULES: list[tuple[str, str]] = [
    ("placeholder word", rf"^({PLACEHOLDER_WORDS})[0-9]*(@.*)?$"),
    # digits only (a phone, a numeric id) with a run a person would type to get past a form
    (
        "repeated or sequential digits",
        r"^[+]?[0-9]*(0{7}|1{7}|5{7}|9{7}|123456789|987654321)[0-9]*$",
    ),
]  # and, in SQL: a value of four or more characters that is one character repeated


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    failures: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    skipped: bool = False


@dataclass
class TruthMetrics:
    """Pairwise scores over accepted events that have a known true person.

    A pair is two such events. Predicted positive: both have the same rudder_id. Actual positive:
    both have the same true person. precision = correct pairs / predicted pairs (how often
    "same profile" is right), recall = correct pairs / actual pairs (how much of each person's
    activity is joined up). Rejected events are not stitched and are left out (counted apart).
    """

    source: str
    events_scored: int
    events_without_truth: int
    rejected_events_with_truth: int
    persons: int
    profiles: int
    predicted_pairs: int
    actual_pairs: int
    correct_pairs: int
    persons_split: int  # persons whose events are in more than one profile
    profiles_mixed: int  # profiles holding events of more than one person

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.actual_pairs if self.actual_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass
class AuditResult:
    database: str
    checks: list[Check] = field(default_factory=list)
    profiles: int = 0
    nodes: int = 0
    events_identified: int = 0
    size_histogram: list[tuple[int, int, int]] = field(default_factory=list)  # lo, hi, profiles
    size_quantiles: dict[str, float] = field(default_factory=dict)
    largest_profiles: list[dict[str, Any]] = field(default_factory=list)
    super_nodes: list[dict[str, Any]] = field(default_factory=list)
    placeholders: list[dict[str, Any]] = field(default_factory=list)
    shared: list[dict[str, Any]] = field(default_factory=list)
    near_shared: list[dict[str, Any]] = field(default_factory=list)
    rejected_events: list[dict[str, Any]] = field(default_factory=list)
    rejected_identifiers: list[dict[str, Any]] = field(default_factory=list)
    run_log: list[dict[str, Any]] = field(default_factory=list)
    truth: TruthMetrics | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        out["truth"] = self.truth.as_dict() if self.truth else None
        return out


_Warehouse = Marts  # either reader: a DuckDB file or a dbt target


def _check(wh: _Warehouse, name: str, sql: str, ok_detail: str, fail_detail: str) -> Check:
    count = int(wh.one(f"select count(*) from ({sql}) as failing") or 0)
    if count == 0:
        return Check(name, True, ok_detail)
    examples = wh.rows(f"select * from ({sql}) as failing limit {EXAMPLES}")
    return Check(name, False, fail_detail.format(n=count), count, _jsonable(examples))


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def value(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.isoformat(sep=" ")
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        return str(v)

    return [{k: value(v) for k, v in r.items()} for r in rows]


REQUIRED = ("rudder_identity_mappings", "rudder_identity_merge_rules", "rudder_identified_events")


def invariant_checks(wh: _Warehouse, config: Config) -> list[Check]:
    d = wh.dialect
    checks = [
        _check(
            wh,
            "one rudder_id per node",
            """
            select id_type, id_value, count(*) as mapping_rows,
                   count(distinct rudder_id) as rudder_ids
            from {rudder_identity_mappings}
            group by id_type, id_value
            having count(*) != 1 or count(rudder_id) != 1""",
            "every identifier maps to exactly one rudder_id",
            "{n} identifiers map to no rudder_id or to more than one",
        ),
        _check(
            wh,
            "applied merge rules within one profile",
            """
            select r.id1_type, r.id1_value, r.id2_type, r.id2_value,
                   m1.rudder_id as rudder_id_1, m2.rudder_id as rudder_id_2
            from {rudder_identity_merge_rules} as r
            left join {rudder_identity_mappings} as m1
                on r.id1_type = m1.id_type and r.id1_value = m1.id_value
            left join {rudder_identity_mappings} as m2
                on r.id2_type = m2.id_type and r.id2_value = m2.id_value
            where r.applied
              and (m1.rudder_id is null or m2.rudder_id is null or m1.rudder_id != m2.rudder_id)""",
            "both ends of every applied merge rule share a rudder_id",
            "{n} applied merge rules join identifiers of different (or no) profiles",
        ),
    ]
    if wh.has("stg_idstitch__events") and wh.has("idstitch_rejected_events"):
        checks.append(
            _check(
                wh,
                "every event identified or rejected",
                """
                with inputs as (
                    select distinct source, event_id from {stg_idstitch__events}
                    where event_id is not null
                ),
                identified as (
                    select distinct source, event_id from {rudder_identified_events}
                ),
                rejected as (
                    select distinct source, event_id from {idstitch_rejected_events}
                    where reason != 'duplicate_event_id' and event_id is not null
                )
                select inputs.source, inputs.event_id,
                       identified.event_id is not null as identified,
                       rejected.event_id is not null as rejected
                from inputs
                left join identified
                    on inputs.source = identified.source and inputs.event_id = identified.event_id
                left join rejected
                    on inputs.source = rejected.source and inputs.event_id = rejected.event_id
                where (identified.event_id is not null) = (rejected.event_id is not null)""",
                "every input event is identified or rejected, never both",
                "{n} input events are lost (neither identified nor rejected) or counted twice",
            )
        )
    else:
        checks.append(
            Check(
                "every event identified or rejected",
                True,
                "skipped: stg_idstitch__events or idstitch_rejected_events is missing",
                skipped=True,
            )
        )
    limited = [t for t in config.id_types if t.limit is not None and t.limit_window is None]
    # limits over a period: no count over the marts must hold; the replay checks them
    periodic = [
        f"{t.name} per {t.limit_per}"
        for t in config.id_types
        if t.limit is not None and t.limit_window is not None
    ]
    by_replay = (
        "; limits over a period are not counted here (the replay checks them): "
        + ", ".join(periodic)
        if periodic
        else ""
    )
    if limited:
        # a manual merge is forced (limits do not bind it): its profiles are exempt
        forced = "select rudder_id from {rudder_identified_events} where source = 'manual_merges'"
        parts = " union all ".join(
            f"select rudder_id, {d.literal(t.name)} as id_type, count(*) as distinct_values, "
            f"{int(t.limit or 0)} as limit_value from {{rudder_identity_mappings}} "
            f"where id_type = {d.literal(t.name)} and not coalesce(is_shared, false) "
            f"and rudder_id not in ({forced}) "
            f"group by rudder_id having count(*) > {int(t.limit or 0)}"
            for t in limited
        )
        checks.append(
            _check(
                wh,
                "type limits respected",
                parts,
                "no profile holds more values of a type than its `limit`" + by_replay,
                "{n} (profile, type) pairs exceed the type's `limit`" + by_replay,
            )
        )
    elif periodic:
        checks.append(
            Check(
                "type limits respected",
                True,
                "no type is limited for ever" + by_replay,
                skipped=True,
            )
        )
    else:
        checks.append(Check("type limits respected", True, "no type has a `limit`", skipped=True))
    priorities = " union all ".join(
        f"select {d.literal(t.name)} as id_type, {int(t.priority)} as priority"
        for t in config.id_types
    )
    earliest = d.md5("id_type || ':' || id_value")
    checks.append(
        _check(
            wh,
            "rudder_id of the earliest node",
            f"""
            with priorities as ({priorities}),
            ranked as (
                select m.rudder_id, m.id_type, m.id_value, m.first_seen_at,
                       row_number() over (
                           partition by m.rudder_id
                           order by m.first_seen_at, coalesce(p.priority, 1000000), m.id_value
                       ) as precedence
                from {{rudder_identity_mappings}} as m
                left join priorities as p on m.id_type = p.id_type
            )
            select rudder_id, id_type as earliest_type, id_value as earliest_value,
                   {earliest} as expected_rudder_id
            from ranked
            where precedence = 1 and rudder_id != {earliest}""",
            "each rudder_id is md5(type:value) of its profile's earliest node",
            "{n} profiles have a rudder_id that is not md5 of their earliest node",
        )
    )
    return checks


INDEX = "int_idstitch__observation_index"
EventKey = tuple[str, str]  # (source, event_id)
Node = tuple[str, str]  # (id_type, id_value)


@dataclass
class _Closure:
    """What the replay of the sampled profiles reads, and what it compares."""

    events: set[EventKey]  # every event of their partitions: replayed and compared
    witnesses: set[EventKey]  # the other events that carry their shared identifiers: replayed
    witnessed: set[Node]  # what only the witnesses carry: not compared (partitions not whole)


def _closure_sql(wh: _Warehouse, sample: list[str]) -> str:
    """The events that can influence the sampled profiles, as the common table expressions
    every query of the replay starts with (so the warehouse works them out, and nothing is
    stored): audit_nodes, audit_events, audit_values and audit_witnesses.

    They come from the observation index, which is global after every run. Rules bind across
    profiles but not across partitions (components of the unconstrained graph; shared
    identifiers link nothing), so a profile is replayed with every event of the partitions of
    its nodes, and a shared node's with its shared partition (the events identified to it).
    Whether an identifier is shared, and its statistics, depend on every event that carries it:
    the events of other partitions that carry a shared identifier of these are replayed too, as
    witnesses."""
    d = wh.dialect
    shared_partition = d.md5("'shared:' || id_type || ':' || id_value")
    return f"""
        with audit_nodes as (
            select id_type, id_value, coalesce(is_shared, false) as is_shared
            from {{rudder_identity_mappings}}
            where rudder_id in {d.literals(sample)}
        ),
        audit_partitions as (
            select i.partition_id
            from {{{INDEX}}} as i
            inner join audit_nodes as n
                on i.id_type = n.id_type and i.id_value = n.id_value
            where not n.is_shared
            union all
            select {shared_partition} as partition_id from audit_nodes
            where is_shared
        ),
        audit_events as (
            select distinct source, event_id from {{{INDEX}}}
            where partition_id in (select partition_id from audit_partitions)
        ),
        audit_values as (
            select distinct id_type, id_value from (
                select i.id_type, i.id_value
                from {{{INDEX}}} as i
                inner join audit_events as e
                    on i.source = e.source and i.event_id = e.event_id
                union all
                select id_type, id_value from audit_nodes
            ) as carried
        ),
        audit_witnesses as (
            select distinct i.source, i.event_id
            from {{{INDEX}}} as i
            inner join audit_values as v
                on i.id_type = v.id_type and i.id_value = v.id_value
            inner join {{rudder_identity_mappings}} as m
                on i.id_type = m.id_type and i.id_value = m.id_value
            left join audit_events as e
                on i.source = e.source and i.event_id = e.event_id
            where coalesce(m.is_shared, false) and e.source is null
        )"""


def _replay_closure(wh: _Warehouse, closure: str) -> _Closure:
    keys = wh.tuples(
        f"""{closure}
            select 'event' as kind, source, event_id from audit_events
            union all
            select 'witness' as kind, source, event_id from audit_witnesses"""
    )
    witnessed = wh.tuples(
        f"""{closure}
            select distinct i.id_type, i.id_value
            from {{{INDEX}}} as i
            inner join audit_witnesses as w
                on i.source = w.source and i.event_id = w.event_id
            where not exists (
                select 1 from audit_values as v
                where v.id_type = i.id_type and v.id_value = i.id_value
            )"""
    )
    return _Closure(
        events={(s, k) for kind, s, k in keys if kind == "event"},
        witnesses={(s, k) for kind, s, k in keys if kind == "witness"},
        witnessed={(t, v) for t, v in witnessed},
    )


def _raw_rows(
    wh: _Warehouse, closure: str, source: Source, relation: Relation
) -> list[dict[str, Any]]:
    """The raw rows of the replayed events of one source: the columns the reference reads,
    under their configured names, each as the warehouse stores it."""
    d = wh.dialect
    names = list(
        dict.fromkeys(
            [source.event_id, source.occurred_at, *source.columns]
            + ([source.loaded_at] if source.loaded_at else [])
        )
    )
    select = ", ".join(f"raw.{d.column(c)} as c{i}" for i, c in enumerate(names))
    event_id = d.trim(d.text(f"raw.{d.column(source.event_id)}"))
    name = d.literal(source.name)
    rows = wh.tuples(
        f"""{closure},
            audit_keys as (
                select event_id from audit_events where source = {name}
                union all
                select event_id from audit_witnesses where source = {name}
            )
            select {select}
            from {relation.sql} as raw
            where {event_id} in (select event_id from audit_keys)"""
    )
    return [dict(zip(names, row, strict=True)) for row in rows]


NEVER_MERGE_COLUMNS = ("pair_id", "id1_type", "id1_value", "id2_type", "id2_value")


def replay_check(
    wh: _Warehouse,
    config: Config,
    relations: Mapping[str, Relation],
    sample: int,
    seed: int,
    erasures: list[dict[str, Any]] | None = None,
) -> Check:
    """Rebuild sampled profiles, with every event that can influence them, by the reference."""
    name = "replay of sampled profiles"
    if sample <= 0:
        return Check(name, True, "skipped (--replay 0)", skipped=True)
    if not wh.has(INDEX):
        return Check(name, True, f"skipped: {INDEX} is missing", skipped=True)
    d = wh.dialect
    # the largest profile is always in the sample: it is where over-merging would show
    largest = wh.one(
        "select rudder_id from {rudder_profiles} order by identifier_count desc, rudder_id limit 1"
    )
    # a seeded order that every warehouse computes alike (md5 is the same everywhere)
    seeded = d.md5("rudder_id || " + d.literal(f":{seed}"))
    ids = [
        r[0]
        for r in wh.tuples(
            f"select rudder_id from {{rudder_profiles}} order by {seeded}, rudder_id"
            f" limit {int(sample)}"
        )
    ]
    if largest is not None and largest not in ids:
        ids = [largest, *ids[: max(sample - 1, 0)]]
    if not ids:
        return Check(name, True, "no profiles to replay", skipped=True)
    closure_sql = _closure_sql(wh, ids)
    closure = _replay_closure(wh, closure_sql)
    keys = closure.events | closure.witnesses
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for source in (*config.sources, manual_merges_source(config)):
        if source.name not in relations or not any(s == source.name for s, _ in keys):
            continue
        rows[source.name] = _raw_rows(wh, closure_sql, source, relations[source.name])
    never: list[dict[str, Any]] = []
    if NEVER_MERGE_RELATION in relations:
        columns = ", ".join(f"{d.column(c)} as {c}" for c in NEVER_MERGE_COLUMNS)
        never = wh.rows(f"select {columns} from {relations[NEVER_MERGE_RELATION].sql}")
    expected = stitch(config, rows, never, erasures or [])

    nodes = {
        (r["id_type"], r["id_value"]): r
        for r in wh.rows(
            f"""{closure_sql}
            select m.id_type, m.id_value, m.rudder_id, m.first_seen_at, m.last_seen_at,
                   m.source_count, m.event_count
            from {{rudder_identity_mappings}} as m
            inner join audit_values as v
                on m.id_type = v.id_type and m.id_value = v.id_value"""
        )
    }
    replayed = {n: m for n, m in expected.mappings.items() if n not in closure.witnessed}
    mismatches: list[dict[str, Any]] = []
    if set(replayed) != set(nodes):
        only_ref = sorted(set(replayed) - set(nodes))[:3]
        only_wh = sorted(set(nodes) - set(replayed))[:3]
        mismatches.append(
            {"problem": f"nodes differ: replay only {only_ref}, warehouse only {only_wh}"}
        )
    for node, m in sorted(replayed.items()):
        got = nodes.get(node)
        if got is None:
            continue
        want = (m.rudder_id, m.first_seen_at, m.last_seen_at, m.source_count, m.event_count)
        have = (
            got["rudder_id"],
            got["first_seen_at"],
            got["last_seen_at"],
            got["source_count"],
            got["event_count"],
        )
        if want != have:
            mismatches.append(
                {"rudder_id": have[0], "problem": f"{node}: replay {want} warehouse {have}"}
            )
    warehouse_events = {
        (e["source"], e["event_id"]): e["rudder_id"]
        for e in wh.rows(
            f"""{closure_sql}
            select e.source, e.event_id, e.rudder_id from {{rudder_identified_events}} as e
            inner join audit_events as a
                on e.source = a.source and e.event_id = a.event_id"""
        )
    }
    replayed_events = {
        k: r for k, (_, r) in expected.identified_events.items() if k in closure.events
    }
    if replayed_events != warehouse_events:
        differ = sorted(set(replayed_events.items()) ^ set(warehouse_events.items()))[:3]
        mismatches.append({"problem": f"identified events differ, e.g. {differ}"})
    if mismatches:
        return Check(
            name,
            False,
            f"{len(mismatches)} differences between the warehouse and the replay of "
            f"{len(ids)} sampled profiles",
            len(mismatches),
            _jsonable(mismatches[:EXAMPLES]),
        )
    return Check(
        name,
        True,
        f"{len(ids)} sampled profiles, replayed with the {len(keys)} events that can "
        "influence them, equal the reference",
    )


ERASURES_CHECK = "erasures honoured"
ERASURE_COLUMNS = ("erasure_id", "requested_at", "id_type", "id_value", "id_hash", "scope")
SCAN_ROWS = 1000  # matching rows read back per table (enough for the examples and counts)


def read_erasure_rows(
    wh: _Warehouse, project: DbtProject, config: Config, manifest: Any
) -> tuple[Relation, list[dict[str, Any]] | None]:
    """The erasures relation and its rows (None when it does not exist)."""
    wanted = config.erasures
    relation = wh.raw_relation(project.node_of(manifest, wanted.source, wanted.ref))
    if not wh.columns(relation):
        return relation, None
    columns = ", ".join(f"{wh.dialect.column(c)} as {c}" for c in ERASURE_COLUMNS)
    return relation, wh.rows(f"select {columns} from {relation.sql}")


def erasures_check(
    wh: _Warehouse,
    config: Config,
    relation: Relation,
    rows: list[dict[str, Any]] | None,
    skip_tables: set[str],
) -> Check:
    """No erased value (docs/semantics.md §3c) is left in the build: every text column of every
    table idstitch stores is searched for each requested normalized value and each requested
    hash, compared trimmed and case-insensitively. The inputs are not searched (the project's
    seeds, the raw relations, the erasures relation), nor views, which store nothing and show
    the raw rows they read: the raw rows are the user's to delete. The examples name the table,
    the column and the request, never the value."""
    if rows is None:
        return Check(
            ERASURES_CHECK,
            True,
            f"skipped: the erasures relation {relation.label} does not exist "
            "(`dbt seed` loads the project's seed idstitch_erasures)",
            skipped=True,
        )
    if not rows:
        return Check(
            ERASURES_CHECK,
            True,
            f"skipped: no erasure requests in {relation.label}, nothing to look for",
            skipped=True,
        )
    try:
        requests = read_erasures(config, rows)
    except ValueError as e:
        return Check(ERASURES_CHECK, False, f"a request cannot be applied: {e}", 1)
    wanted: dict[str, list[tuple[Erasure, str]]] = defaultdict(list)
    for r in requests:
        wanted[r.hash.lower()].append((r, "hash"))
        if r.value is not None:
            wanted[r.value.strip().lower()].append((r, "value"))
    d = wh.dialect
    listed = d.literals(sorted(wanted))
    hits: dict[tuple[str, str, str, str], int] = defaultdict(int)
    scanned = 0
    for table in sorted(wh.tables - skip_tables):
        if wh.is_seed(table) or wh.is_view(table):  # inputs, and views that only show raw rows
            continue
        columns = wh.text_columns(table)
        if not columns:
            continue
        scanned += 1
        matched = " or ".join(f"lower({d.trim(c)}) in {listed}" for c in columns)
        select = ", ".join(f"{c} as c{i}" for i, c in enumerate(columns))
        for row in wh.tuples(f"select {select} from {{{table}}} where {matched} limit {SCAN_ROWS}"):
            for column, cell in zip(columns, row, strict=True):
                if isinstance(cell, str):
                    for request, kind in wanted.get(cell.strip().lower(), []):
                        hits[(table, column, request.erasure_id, kind)] += 1
    profile_note = ""
    if any(r.scope == "profile" for r in requests) and ERASED_PROFILES in wh.tables:
        for table, column, n in _erased_profile_hits(wh):
            hits[(table, column, "(a profile request)", "value of an erased profile")] += n
        profile_note = ", nor any value of an erased profile in the marts"
    if not hits:
        return Check(
            ERASURES_CHECK,
            True,
            f"none of the {len(requests)} requested values or hashes is in the text columns "
            f"of the {scanned} tables the build stores{profile_note}",
        )
    # every place found, so that a person can see each table to look at (the list is short:
    # at most the tables times their text columns times the requests)
    examples = [
        {"table": t, "column": c, "erasure_id": e, "found": kind, "rows": n}
        for (t, c, e, kind), n in sorted(hits.items())
    ]
    tables = sorted({t for t, _, _, _ in hits})
    return Check(
        ERASURES_CHECK,
        False,
        f"requested values or hashes are still in {len(hits)} (table, column, request) "
        f"places, in {', '.join(tables)}",
        len(hits),
        examples,
    )


ERASED_PROFILES = "int_idstitch__erased_profiles"


def _erased_profile_hits(wh: _Warehouse) -> list[tuple[str, str, int]]:
    """(table, column, rows) of the marts that still name a value of an erased profile: the
    build keeps a digest of each (int_idstitch__erased_profiles, docs/how-it-works.md), which
    the md5 id of a value or a rudder_id is compared with. One query."""
    d = wh.dialect

    def erased(md5_id: str) -> str:
        digest = d.md5(d.literal("idstitch-erased:") + " || " + md5_id)
        return f"{digest} in (select digest from {{{ERASED_PROFILES}}} where is_erased)"

    places = [
        ("rudder_identity_mappings", "id_value", erased(d.md5("id_type || ':' || id_value"))),
        ("rudder_identity_mappings", "rudder_id", erased("rudder_id")),
        ("rudder_profiles", "rudder_id", erased("rudder_id")),
        ("rudder_identified_events", "rudder_id", erased("rudder_id")),
    ]
    counts = " union all ".join(
        f"select {d.literal(t)} as t, {d.literal(c)} as c, count(*) as n from {{{t}}} where {w}"
        for t, c, w in places
    )
    return [(str(t), str(c), int(n)) for t, c, n in wh.tuples(counts) if int(n) > 0]


def _size_counts(wh: _Warehouse) -> list[tuple[int, int]]:
    """(profile size, profiles of that size), smallest first: counted in the warehouse."""
    return sorted(
        (int(size), int(n))
        for size, n in wh.tuples(
            "select identifier_count, count(*) from {rudder_profiles} group by identifier_count"
        )
    )


def _size_histogram(counts: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    buckets: dict[int, int] = defaultdict(int)
    for size, n in counts:
        buckets[max(size, 1).bit_length() - 1] += n
    # every bucket up to the largest, empty ones included, so the x axis stays logarithmic
    return [
        (2**b, 2 ** (b + 1) - 1, buckets.get(b, 0)) for b in range(max(buckets, default=-1) + 1)
    ]


def _size_quantiles(counts: list[tuple[int, int]]) -> dict[str, float]:
    """Mean, median, 99th percentile (interpolated, as SQL's percentile_cont) and maximum of
    the profile sizes, from their counts."""
    total = sum(n for _, n in counts)
    if not total:
        return {}

    def at(rank: int) -> int:  # the size at a 0-based rank of the sorted sizes
        seen = 0
        for size, n in counts:
            seen += n
            if rank < seen:
                return size
        return counts[-1][0]

    def quantile(p: float) -> float:
        position = (total - 1) * p
        low = int(position)
        fraction = position - low
        lo, hi = at(low), at(min(low + 1, total - 1))
        return float(lo + (hi - lo) * fraction)

    return {
        "mean": sum(size * n for size, n in counts) / total,
        "p50": quantile(0.5),
        "p99": quantile(0.99),
        "max": float(counts[-1][0]),
    }


def shared_signals(wh: _Warehouse, config: Config, result: AuditResult, top: int) -> None:
    """Shared identifiers (docs/semantics.md §3a), and the values one co-occurring value away from
    being shared: at exactly `n` distinct values of the linked type."""
    d = wh.dialect
    if wh.has("idstitch_shared_identifiers"):
        result.shared = _jsonable(
            wh.rows(
                f"""select id_type, id_value, linked_type, distinct_linked
                from {{idstitch_shared_identifiers}}
                order by distinct_linked desc, id_type, id_value, linked_type limit {top}"""
            )
        )
    rules = [(t.name, u, n) for t in config.id_types for u, n in t.shared_after.items()]
    if not rules or not wh.has(INDEX):
        return
    parts = " union all ".join(
        f"""select v.id_type, v.id_value, {d.literal(u)} as linked_type,
                   count(distinct o.id_value) as distinct_linked, {int(n)} as threshold
            from {{{INDEX}}} as v
            inner join {{{INDEX}}} as o
                on v.source = o.source and v.event_id = o.event_id
                and o.id_type = {d.literal(u)}
                and not (v.id_type = o.id_type and v.id_value = o.id_value)
            where v.id_type = {d.literal(t)}
            group by v.id_type, v.id_value
            having count(distinct o.id_value) = {int(n)}"""
        for t, u, n in rules
    )
    result.near_shared = _jsonable(
        wh.rows(
            f"select * from ({parts}) as near order by id_type, id_value, linked_type limit {top}"
        )
    )


def signals(wh: _Warehouse, result: AuditResult, top: int) -> None:
    d = wh.dialect
    result.profiles = int(wh.one("select count(*) from {rudder_profiles}") or 0)
    result.nodes = int(wh.one("select count(*) from {rudder_identity_mappings}") or 0)
    result.events_identified = int(wh.one("select count(*) from {rudder_identified_events}") or 0)
    counts = _size_counts(wh)
    result.size_histogram = _size_histogram(counts)
    result.size_quantiles = _size_quantiles(counts)
    by_type = d.string_agg(f"id_type || '=' || {d.text('n')}", ", ", "n desc, id_type")
    result.largest_profiles = _jsonable(
        wh.rows(
            f"""
            with by_type as (
                select rudder_id, id_type, count(*) as n
                from {{rudder_identity_mappings}} group by rudder_id, id_type
            ),
            types as (
                select rudder_id, {by_type} as identifiers_by_type
                from by_type group by rudder_id
            ),
            events as (
                select rudder_id, count(*) as events
                from {{rudder_identified_events}} group by rudder_id
            )
            select p.rudder_id, p.identifier_count, coalesce(e.events, 0) as events,
                   p.primary_id_type || ':' || p.primary_id_value as primary_id,
                   t.identifiers_by_type
            from {{rudder_profiles}} as p
            left join types as t on p.rudder_id = t.rudder_id
            left join events as e on p.rudder_id = e.rudder_id
            order by p.identifier_count desc, p.rudder_id
            limit {top}"""
        )
    )
    result.super_nodes = _jsonable(
        wh.rows(
            f"""
            with ends as (
                select id1_type as id_type, id1_value as id_value
                from {{rudder_identity_merge_rules}}
                union all
                select id2_type, id2_value from {{rudder_identity_merge_rules}}
            ),
            counted as (
                select id_type, id_value, count(*) as edges from ends group by id_type, id_value
            )
            select c.id_type, c.id_value, c.edges, m.event_count,
                   p.identifier_count as profile_size
            from counted as c
            left join {{rudder_identity_mappings}} as m
                on c.id_type = m.id_type and c.id_value = m.id_value
            left join {{rudder_profiles}} as p on m.rudder_id = p.rudder_id
            order by c.edges desc, c.id_type, c.id_value
            limit {top}"""
        )
    )
    rules = " ".join(
        f"when {d.regex_contains('lower(id_value)', pattern)} then {d.literal(why)}"
        for why, pattern in PLACEHOLDER_RULES
    )
    # one character repeated, after an optional leading +
    bare = "case when substr(id_value, 1, 1) = '+' then substr(id_value, 2) else id_value end"
    result.placeholders = _jsonable(
        wh.rows(
            f"""
            with flagged as (
                select id_type, id_value, rudder_id, event_count,
                       case {rules}
                            when length(id_value) >= 4
                                 and replace({bare}, substr({bare}, 1, 1), '') = ''
                                then 'one repeated character'
                       end as looks_like
                from {{rudder_identity_mappings}}
            )
            select f.id_type, f.id_value, f.looks_like, f.event_count,
                   p.identifier_count as profile_size
            from flagged as f
            left join {{rudder_profiles}} as p on f.rudder_id = p.rudder_id
            where f.looks_like is not null
            order by p.identifier_count desc, f.event_count desc, f.id_type, f.id_value
            limit {top}"""
        )
    )
    if wh.has("idstitch_rejected_events"):
        result.rejected_events = _jsonable(
            wh.rows(
                """select reason, source, count(*) as events from {idstitch_rejected_events}
                   group by reason, source order by events desc, reason, source"""
            )
        )
    if wh.has("idstitch_rejected_identifiers"):
        result.rejected_identifiers = _jsonable(
            wh.rows(
                """select reason, source, id_type, count(*) as values_rejected
                   from {idstitch_rejected_identifiers}
                   group by reason, source, id_type
                   order by values_rejected desc, reason, source, id_type"""
            )
        )
    if wh.has("idstitch_run_log"):
        result.run_log = _jsonable(
            wh.rows(
                """select run_id, step, iteration, rows_changed, edges_remaining, nodes_active,
                          started_at, seconds
                   from {idstitch_run_log}
                   where step = 'connected_components'
                   order by started_at, step, iteration"""
            )
        )


def _truth_sql(
    wh: _Warehouse, truth: str, config: Config, relations: Mapping[str, Relation]
) -> tuple[str, str]:
    """A query of (source, event_id, person) for the ground truth, and its description."""
    d = wh.dialect
    if "." in truth:
        schema, table = truth.split(".", 1)
        relation = wh.table_relation(schema, table)
        cols = wh.columns(relation)
        lowered = {c.lower(): c for c in cols}
        person = [c for c in cols if c.lower() not in ("source", "event_id")]
        if "source" not in lowered or "event_id" not in lowered or not person:
            raise ValueError(
                f"truth table {truth} needs columns source, event_id and a person column; "
                f"it has {cols or 'no columns (does it exist?)'}"
            )
        sql = (
            f"select {d.column(lowered['source'])} as source, "
            f"{d.column(lowered['event_id'])} as event_id, "
            f"{d.text(d.column(person[0]))} as person from {relation.sql}"
        )
        return sql, f"table {truth} (person column {person[0].lower()})"
    parts = []
    for source in config.sources:
        relation = relations[source.name]
        columns = {c.lower() for c in wh.columns(relation)}
        if truth.lower() not in columns:
            raise ValueError(
                f"raw table {relation.label} of source `{source.name}` has no column `{truth}`"
            )
        parts.append(
            f"select {d.literal(source.name)} as source, "
            f"{d.trim(d.text(d.column(source.event_id)))} as event_id, "
            f"{d.text(d.column(truth))} as person from {relation.sql}"
        )
    sql = (
        "select source, event_id, min(person) as person from ("
        + " union all ".join(parts)
        + ") as raw where event_id is not null and event_id != '' group by source, event_id"
    )
    return sql, f"column {truth} of the raw tables"


def truth_metrics(
    wh: _Warehouse, truth: str, config: Config, relations: Mapping[str, Relation]
) -> TruthMetrics:
    truth_sql, described = _truth_sql(wh, truth, config, relations)
    # pairs of n events: n * (n - 1) / 2, halved here so that every warehouse sums integers
    r = wh.rows(
        f"""
        with audit_truth as ({truth_sql}),
        scored as (
            select i.rudder_id, t.person
            from {{rudder_identified_events}} as i
            inner join audit_truth as t
                on i.source = t.source and i.event_id = t.event_id
            where t.person is not null
        ),
        by_profile as (select count(*) as n from scored group by rudder_id),
        by_person as (select count(*) as n from scored group by person),
        by_both as (select count(*) as n from scored group by rudder_id, person)
        select
            (select count(*) from scored) as events_scored,
            (select count(*) from {{rudder_identified_events}} as i
             where not exists (select 1 from audit_truth as t
                               where t.source = i.source and t.event_id = i.event_id
                                 and t.person is not null)) as events_without_truth,
            (select count(distinct person) from scored) as persons,
            (select count(distinct rudder_id) from scored) as profiles,
            (select count(*) from (select person from scored group by person
                                   having count(distinct rudder_id) > 1) as split)
                as persons_split,
            (select count(*) from (select rudder_id from scored group by rudder_id
                                   having count(distinct person) > 1) as mixed)
                as profiles_mixed,
            (select coalesce(sum(n * (n - 1)), 0) from by_profile) as predicted_twice,
            (select coalesce(sum(n * (n - 1)), 0) from by_person) as actual_twice,
            (select coalesce(sum(n * (n - 1)), 0) from by_both) as correct_twice"""
    )[0]
    rejected = 0
    if wh.has("idstitch_rejected_events"):
        rejected = int(
            wh.one(
                f"""with audit_truth as ({truth_sql})
                select count(*) from (
                    select distinct r.source, r.event_id from {{idstitch_rejected_events}} as r
                    inner join audit_truth as t
                        on r.source = t.source and r.event_id = t.event_id
                    where r.reason != 'duplicate_event_id' and t.person is not null
                ) as rejected"""
            )
            or 0
        )
    return TruthMetrics(
        source=described,
        events_scored=int(r["events_scored"]),
        events_without_truth=int(r["events_without_truth"]),
        rejected_events_with_truth=rejected,
        persons=int(r["persons"]),
        profiles=int(r["profiles"]),
        predicted_pairs=int(r["predicted_twice"]) // 2,
        actual_pairs=int(r["actual_twice"]) // 2,
        correct_pairs=int(r["correct_twice"]) // 2,
        persons_split=int(r["persons_split"]),
        profiles_mixed=int(r["profiles_mixed"]),
    )


def project_config(project: DbtProject) -> Config:
    """The idstitch var the build used: the project's, unless --vars replaced it."""
    if "idstitch" in project.vars:
        return parse_config(project.vars["idstitch"])
    return load_project_config(project.project_dir)


NEVER_MERGE_RELATION = "never_merge"


def raw_relations(
    wh: _Warehouse, project: DbtProject, config: Config, manifest: Any = None
) -> dict[str, Relation]:
    """Every configured source's raw relation and the two rule relations, as the target names
    them, from the parsed project."""
    manifest = manifest if manifest is not None else project.parse()
    relations = {
        s.name: wh.raw_relation(project.node_of(manifest, s.source, s.ref))
        for s in (*config.sources, manual_merges_source(config))
    }
    never = config.never_merge
    relations[NEVER_MERGE_RELATION] = wh.raw_relation(
        project.node_of(manifest, never.source, never.ref)
    )
    return relations


def database_label(path: Path, project: DbtProject | None = None) -> str:
    """How the report names the DuckDB file it audits, with no trace of this machine's layout
    unless the user typed it: a relative path as it is; an absolute one inside the project (the
    default `idstitch.duckdb`, or `$IDSTITCH_DUCKDB_PATH` pointing there) relative to the
    project; any other absolute path as it is. A dbt target the project names follows in
    brackets."""
    label = str(path)
    if path.is_absolute():
        project_dir = project.project_dir if project is not None else PROJECT_DIR
        for inside, root in ((path, project_dir), (path.resolve(), project_dir.resolve())):
            if inside.is_relative_to(root):
                label = str(inside.relative_to(root))
                break
    if project is not None and project.target:
        label += f" (dbt target {project.target})"
    return label


def run_audit(
    path: Path | None,
    *,
    project: DbtProject | None = None,
    truth: str | None = None,
    replay: int = 25,
    seed: int = 0,
    top: int = 10,
    min_precision: float | None = None,
    min_recall: float | None = None,
    schema: str = SCHEMA,
    database: str | None = None,
) -> AuditResult:
    """Audit a build: the DuckDB file `path`, or, when `path` is None, the tables of the
    project's dbt target, read through its adapter. Raises ValueError when it cannot be
    audited, DbtError when the target cannot be reached.

    `database` is how the report names the build (the command passes the path as typed); by
    default :func:`database_label` of the file, or `dbt target NAME`."""
    if path is None and project is None:
        raise ValueError("audit needs a DuckDB file or a dbt project with a target")
    project = project or DbtProject(duckdb_path=path)
    config = project_config(project)
    manifest = None
    wh: _Warehouse
    if path is None:
        manifest = project.parse()
        wh = AdapterMarts(project, manifest)
        label = database or f"dbt target {project.target or '(the profile default)'}"
    else:
        wh = DuckDBMarts(path, schema)
        label = database or database_label(path, project)
    result = AuditResult(database=label)
    try:
        missing = [t for t in (*REQUIRED, "rudder_profiles") if not wh.has(t)]
        if missing:
            raise ValueError(
                f"{wh.where} has no {', '.join(missing)}"
                + (f" in schema `{schema}`" if path is not None else "")
                + "; build it first with `idstitch run` (or `dbt build`)"
            )
        result.checks = invariant_checks(wh, config)
        manifest = manifest if manifest is not None else project.parse()
        try:
            relations = raw_relations(wh, project, config, manifest)
            erasure_relation, erasure_rows = read_erasure_rows(wh, project, config, manifest)
        except DbtError as e:
            raise ValueError(f"cannot locate the raw tables: {e}") from e
        try:  # the replay applies the requests the build should have applied
            read_erasures(config, erasure_rows or [])
            applicable = erasure_rows or []
        except ValueError:
            applicable = []  # the erasures check reports it
        result.checks.append(replay_check(wh, config, relations, replay, seed, applicable))
        inputs: set[str | None] = {s.ref for s in config.sources}
        inputs |= {r.ref for r in (config.manual_merges, config.never_merge, config.erasures)}
        result.checks.append(
            erasures_check(
                wh, config, erasure_relation, erasure_rows, {t for t in inputs if t is not None}
            )
        )
        signals(wh, result, top)
        shared_signals(wh, config, result, top)
        for name in ("idstitch_limit_violations", "idstitch_skipped_aliases"):
            if wh.has(name):
                n = int(wh.one(f"select count(*) from {{{name}}}") or 0)
                result.notes.append(f"{name}: {n} rows")
        if truth:
            result.truth = truth_metrics(wh, truth, config, relations)
            for metric, value, floor in (
                ("precision", result.truth.precision, min_precision),
                ("recall", result.truth.recall, min_recall),
            ):
                if floor is not None:
                    result.checks.append(
                        Check(
                            f"pairwise {metric} >= {floor}",
                            value >= floor,
                            f"pairwise {metric} is {value:.4f}",
                            0 if value >= floor else 1,
                        )
                    )
    finally:
        wh.close()
    return result


def print_audit(console: Console, result: AuditResult) -> None:
    """The audit for a terminal: checks first, then the numbers worth a look."""
    checks = Table(title="idstitch audit", title_justify="left")
    checks.add_column("check")
    checks.add_column("result")
    checks.add_column("detail")
    for c in result.checks:
        mark = (
            "[yellow]skipped[/yellow]"
            if c.skipped
            else ("[green]pass[/green]" if c.ok else "[bold red]FAIL[/bold red]")
        )
        checks.add_row(c.name, mark, c.detail)
    console.print(checks)
    for c in result.failed:
        for example in c.examples:
            console.print(f"  [red]{c.name}[/red]: {example}", highlight=False)

    numbers = Table(show_header=False, title="profiles", title_justify="left")
    numbers.add_column("what")
    numbers.add_column("value", justify="right")
    numbers.add_row("profiles", f"{result.profiles:,}")
    numbers.add_row("identifiers", f"{result.nodes:,}")
    numbers.add_row("events identified", f"{result.events_identified:,}")
    q = result.size_quantiles
    if q:
        numbers.add_row(
            "identifiers per profile",
            f"mean {q['mean']:.2f} · median {q['p50']:.0f} · p99 {q['p99']:.0f} · "
            f"max {q['max']:.0f}",
        )
    if result.largest_profiles:
        big = result.largest_profiles[0]
        numbers.add_row("largest profile", f"{big['primary_id']} ({big['identifier_count']} ids)")
    if result.super_nodes:
        s = result.super_nodes[0]
        numbers.add_row("most-connected identifier", f"{s['id_type']}:{s['id_value']} "
                        f"({s['edges']} edges)")  # fmt: skip
    numbers.add_row(
        "unblocked placeholder-like values",
        str(len(result.placeholders))
        + (f" (e.g. {result.placeholders[0]['id_value']})" if result.placeholders else ""),
    )
    numbers.add_row(
        "shared identifiers",
        str(len(result.shared))
        + (
            f" (e.g. {result.shared[0]['id_type']}:{result.shared[0]['id_value']}"
            f" with {result.shared[0]['distinct_linked']} {result.shared[0]['linked_type']}s)"
            if result.shared
            else ""
        ),
    )
    numbers.add_row("values at the shared threshold", str(len(result.near_shared)))
    numbers.add_row("events rejected", f"{sum(r['events'] for r in result.rejected_events):,}")
    numbers.add_row(
        "identifier values rejected",
        f"{sum(r['values_rejected'] for r in result.rejected_identifiers):,}",
    )
    for note in result.notes:
        numbers.add_row(note.split(":")[0], note.split(":", 1)[1].strip())
    t = result.truth
    if t:
        numbers.add_row("ground truth", t.source)
        numbers.add_row("pairwise precision", f"{t.precision:.4f}")
        numbers.add_row("pairwise recall", f"{t.recall:.4f}")
        numbers.add_row("pairwise F1", f"{t.f1:.4f}")
        numbers.add_row("persons split / profiles mixed", f"{t.persons_split:,} / "
                        f"{t.profiles_mixed:,}")  # fmt: skip
    console.print(numbers)
    verdict = "[bold green]audit passed[/bold green]" if result.ok else (
        f"[bold red]audit failed[/bold red]: {', '.join(c.name for c in result.failed)}"
    )  # fmt: skip
    console.print(verdict)
