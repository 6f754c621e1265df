"""`idstitch bench`: how fast and how far the connected-components loop scales.

For each generated graph, in one process and one run, on one DuckDB file:

1. the idstitch pipeline end to end: the graph is written as raw events and `dbt build` runs
   every model, staging to marts;
2. the floor: the least work any correct stitcher does for the build's job, done lean in this
   process (read the raw events once, unpivot and normalize the identifiers, distinct nodes
   with integer keys, scipy's connected components, the mapping and the identified events
   written back to DuckDB); see "the floor" below;
3. the connected-components model alone, rebuilt (`dbt run --select int_idstitch__components`)
   and timed by dbt's own clock for that model;
4. the physical limit of the components step: `scipy.sparse.csgraph.connected_components` on
   the build's edges, timed from loading them out of DuckDB to writing the labels back;
5. the naive alternative: min-label propagation in SQL on the same DuckDB (every node takes
   the smallest label among itself and its neighbours until nothing changes), stopped at a
   time cap and then reported as "> cap".

Every time is compared with scipy's and with the floor's on the same graph in the same run,
because the absolute times of a shared machine drift. The partitions of idstitch, scipy and
(when it converged) label propagation are checked to be identical, and the floor's mapping and
identified events to equal the build's marts; a mismatch fails the bench.
"""

from __future__ import annotations

import csv
import math
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import psutil  # type: ignore[import-untyped]
import yaml
from rich.console import Console
from rich.table import Table

from idstitch.config import Config, Source, manual_merges_source, parse_config
from idstitch.normalize import TRIM_CHARS
from idstitch.runner import PROJECT_DIR, DbtProject

SCHEMA = "idstitch"
RAW_SCHEMA = "idstitch_raw"
COMPONENTS_MODEL = "int_idstitch__components"
# every model, staging to marts; data and unit tests are left out of the timing
BUILD_ARGS = [
    "build",
    "--quiet",
    "--exclude",
    "resource_type:seed",
    "resource_type:test",
    "resource_type:unit_test",
]

# the demo raw tables the project's sources read (column -> type); see seeds/demo
RAW_TABLES: dict[str, dict[str, str]] = {
    "raw_web_tracks": {
        "message_id": "varchar",
        "timestamp": "timestamp",
        "event": "varchar",
        "anonymous_id": "varchar",
        "user_id": "varchar",
        "context_traits_email": "varchar",
        "context_device_id": "varchar",
        "first_name": "varchar",
        "last_name": "varchar",
    },
    "raw_app_events": {
        "event_id": "varchar",
        "sent_at": "timestamp",
        "event_name": "varchar",
        "device_id": "varchar",
        "user_id": "varchar",
        "email": "varchar",
        "phone": "varchar",
        "first_name": "varchar",
        "last_name": "varchar",
    },
    "raw_merge_events": {
        "message_id": "varchar",
        "timestamp": "timestamp",
        "merge_type_1": "varchar",
        "merge_value_1": "varchar",
        "merge_type_2": "varchar",
        "merge_value_2": "varchar",
    },
    "raw_webinar_leads": {
        "lead_id": "varchar",
        "registered_at": "timestamp",
        "first_name": "varchar",
        "last_name": "varchar",
        "company": "varchar",
        "email": "varchar",
        "phone": "varchar",
    },
    "raw_crm_contacts": {
        "contact_id": "varchar",
        "updated_at": "timestamp",
        "email": "varchar",
        "phone": "varchar",
        "mobile": "varchar",
        "first_name": "varchar",
        "last_name": "varchar",
    },
    # the rule tables the demo var names, empty: the bench measures plain connected components
    "raw_manual_merges": {
        "merge_id": "varchar",
        "merged_at": "timestamp",
        "id1_type": "varchar",
        "id1_value": "varchar",
        "id2_type": "varchar",
        "id2_value": "varchar",
        "note": "varchar",
    },
    "raw_never_merge": {
        "pair_id": "varchar",
        "id1_type": "varchar",
        "id1_value": "varchar",
        "id2_type": "varchar",
        "id2_value": "varchar",
        "note": "varchar",
    },
}


def bench_vars() -> dict[str, Any]:
    """The demo configuration without limits and shared identifiers: what the bench measures
    is connected components, which scipy computes too (the rules have their own benchmark,
    `python -m idstitch.rules_bench`)."""
    with open(PROJECT_DIR / "dbt_project.yml") as f:
        raw = yaml.safe_load(f)["vars"]["idstitch"]
    raw["id_types"] = [
        {k: v for k, v in t.items() if k not in ("limit", "shared_after")} for t in raw["id_types"]
    ]
    return {"idstitch": raw}


BASE_TIME = "timestamp '2024-01-01 00:00:00'"

# the methods, as the table names them
METHOD_BUILD = "idstitch build"  # dbt build, staging to marts
METHOD_FLOOR = "floor"  # the least work any stitcher does for the build's job, done lean
METHOD_COMPONENTS = "idstitch cc"  # the connected-components model alone
METHOD_SCIPY = "scipy"  # load edges + connected_components + write labels
METHOD_LABELS = "label propagation"  # min-label propagation in SQL
METHODS_NOTE = (
    "idstitch build = dbt build, staging to marts; floor = the same job done lean in this "
    "process (read the raw events once, unpivot, trim and lower-case the identifiers, distinct "
    "nodes with integer keys and edges in DuckDB, scipy connected_components, mapping and "
    "identified events written back to DuckDB), checked equal to the build's marts; "
    "idstitch cc = the components model alone (dbt's model time); scipy = load edges from "
    "DuckDB + connected_components + write labels back; label propagation = min-label "
    "propagation in SQL ('>' = stopped at the cap). Ratios are to scipy and to the floor on "
    "the same graph in the same run (the build's 'vs floor' is build / floor); peak = "
    "resident memory of the process (dbt + DuckDB + Python)."
)


# --- graphs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphSpec:
    """A graph to generate: its family and its intended number of nodes."""

    kind: str  # path | star | random | identity
    size: int

    @property
    def name(self) -> str:
        return f"{self.kind}-{_short(self.size)}"


def _merge_event_rows(pairs_sql: str) -> str:
    """Raw merge events for arbitrary pairs (i, j) of whole numbers: one event per row.

    Every node is an anonymous id `n<i>`; a row whose `j` is null is an event with one
    identifier, so an isolated node. A merge event can join any two nodes, which the typed
    columns of web tracks cannot (two anonymous ids in one track are one column).
    """
    return f"""
        select
            'e' || row_number() over () as message_id,
            {BASE_TIME} + to_seconds(row_number() over ()) as timestamp,
            'anonymous_id' as merge_type_1,
            'n' || i as merge_value_1,
            case when j is not null then 'anonymous_id' end as merge_type_2,
            case when j is not null then 'n' || j end as merge_value_2
        from ({pairs_sql}) as pairs
    """


def graph_sql(spec: GraphSpec) -> dict[str, str]:
    """The rows of each raw table for one graph, as queries (tables not named stay empty)."""
    n = spec.size
    if spec.kind == "path":
        # 0 - 1 - 2 - ... - (n-1): the largest diameter a graph of n nodes can have
        return {
            "raw_merge_events": _merge_event_rows(
                f"select range as i, range + 1 as j from range({n - 1})"
            )
        }
    if spec.kind == "star":
        # one hub linked to every other node: diameter 2, one node of degree n - 1
        return {
            "raw_merge_events": _merge_event_rows(f"select 0 as i, range as j from range(1, {n})")
        }
    if spec.kind == "random":
        # n uniform random edges on n nodes (mean degree 2: a giant component and dust),
        # plus a one-identifier event for each node no edge touched
        return {
            "raw_merge_events": _merge_event_rows(f"""
                with edges as (
                    select hash(range * 2) % {n} as i, hash(range * 2 + 1) % {n} as j
                    from range({n})
                ),
                touched as (select i as node from edges union select j from edges)
                select i, j from edges
                union all
                select range as i, null as j from range({n}) anti join touched on range = node
            """)
        }
    if spec.kind == "identity":
        return _identity_sql(n)
    raise ValueError(f"unknown graph kind {spec.kind!r}; expected path, star, random or identity")


def _identity_sql(nodes: int) -> dict[str, str]:
    """People with one to three devices, logging in from some of them: about 0.8 edges a node.

    Per person: each device has a device id and an anonymous id, seen together when browsing
    (edge anonymous_id - device_id). Four people in five are known: they log in from every
    device (edge user_id - anonymous_id), and half of them give an email when they do (edge
    user_id - email). An unknown person is a set of anonymous-id/device-id pairs. Expected
    nodes per person: 5.2 (0.2 x 4 + 0.4 x 5 + 0.4 x 6), edges: 4.0, so 0.77 edges per node.
    """
    people = max(1, round(nodes / 5.2))
    devices = f"""
        with people as (
            select
                range as person,
                1 + hash(range * 4) % 3 as device_count,
                hash(range * 4 + 1) % 5 != 0 as is_known,
                hash(range * 4 + 2) % 2 = 0 as has_email
            from range({people})
        )
        select people.*, device.range as device
        from people
        cross join range(3) as device
        where device.range < people.device_count
    """
    return {
        "raw_web_tracks": f"""
            with devices as ({devices})
            select
                'b' || person || '_' || device as message_id,
                {BASE_TIME} + to_seconds(person * 10 + device) as timestamp,
                'page_viewed' as event,
                'a' || person || '_' || device as anonymous_id,
                null as user_id,
                null as context_traits_email,
                'd' || person || '_' || device as context_device_id,
                null as first_name,
                null as last_name
            from devices
            union all
            select
                'l' || person || '_' || device,
                {BASE_TIME} + to_seconds(person * 10 + 5 + device),
                'logged_in',
                'a' || person || '_' || device,
                'u' || person,
                case when has_email then 'person' || person || '@example.com' end,
                null,
                null,
                null
            from devices
            where is_known
        """
    }


def write_graph(con: duckdb.DuckDBPyConnection, spec: GraphSpec) -> None:
    """(Re)create the raw tables and fill them with the graph's events."""
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    rows = graph_sql(spec)
    for table, columns in RAW_TABLES.items():
        typed = ", ".join(f'"{c}" {t}' for c, t in columns.items())
        con.execute(f"create or replace table {RAW_SCHEMA}.{table} ({typed})")
        if table in rows:
            names = ", ".join(f'"{c}"' for c in columns)
            con.execute(f"insert into {RAW_SCHEMA}.{table} ({names}) {rows[table]}")


def default_specs(sizes: Sequence[int], quick: bool) -> list[GraphSpec]:
    """The graphs of a bench run: the path, star and random graph, and identity-like ones."""
    if quick:
        fixed = [GraphSpec("path", 2_000), GraphSpec("star", 2_000), GraphSpec("random", 2_000)]
    else:
        fixed = [
            GraphSpec("path", 100_000),
            GraphSpec("path", 1_000_000),
            GraphSpec("star", 1_000_000),
            GraphSpec("random", 1_000_000),
        ]
    return [*fixed, *(GraphSpec("identity", s) for s in sizes)]


QUICK_SIZES = (1_000, 5_000)
FULL_SIZES = (100_000, 1_000_000, 10_000_000)


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Measurement:
    """One method on one graph."""

    graph: str
    nodes: int
    edges: int
    method: str
    seconds: float
    rounds: int | None = None
    capped: bool = False  # stopped at the time cap: the true time is larger
    peak_memory_bytes: int | None = None
    ratio_to_scipy: float | None = None
    ratio_to_floor: float | None = None

    @property
    def round_bound(self) -> float:
        """The target for idstitch's rounds: log2(nodes) + 5."""
        return math.log2(max(self.nodes, 2)) + 5


class PeakMemory:
    """The peak resident memory of this process (dbt, DuckDB, scipy) during a block.

    On Linux the kernel's high-water mark (VmHWM) is reset at the start and read at the end;
    a sampling thread covers systems without it.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._process = psutil.Process()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        with suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _kernel_peak())


def _kernel_peak() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@contextmanager
def measured() -> Iterator[dict[str, float]]:
    """Wall seconds and peak memory of a block, filled in when it ends."""
    out: dict[str, float] = {}
    with PeakMemory() as memory:
        started = time.perf_counter()
        yield out
        out["seconds"] = time.perf_counter() - started
    out["peak"] = memory.peak


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    rows = con.execute(sql).fetchall()
    return rows[0][0]


def scipy_components(con: duckdb.DuckDBPyConnection) -> int:
    """Connected components with scipy: edges out of DuckDB, labels back in. Returns the count."""
    from scipy.sparse import coo_matrix  # type: ignore[import-untyped]
    from scipy.sparse.csgraph import connected_components  # type: ignore[import-untyped]

    edges = con.execute(
        f"select node_key_1, node_key_2 from {SCHEMA}.int_idstitch__edges"
    ).fetchnumpy()
    # node keys are 1..n (row_number in int_idstitch__nodes); index 0 stays an unused singleton
    n = int(_one(con, f"select coalesce(max(node_key), 0) from {SCHEMA}.int_idstitch__nodes")) + 1
    a = np.asarray(edges["node_key_1"], dtype=np.int64)
    b = np.asarray(edges["node_key_2"], dtype=np.int64)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    count, labels = connected_components(graph, directed=False)
    frame = {"node_key": np.arange(1, n, dtype=np.int64), "component": labels[1:].astype(np.int64)}
    con.register("bench_scipy_labels_source", frame)
    try:
        con.execute(
            f"create or replace table {SCHEMA}.bench_scipy_components as "
            "select * from bench_scipy_labels_source"
        )
    finally:
        con.unregister("bench_scipy_labels_source")
    return int(count) - 1


def label_propagation(con: duckdb.DuckDBPyConnection, cap_seconds: float) -> tuple[int, bool]:
    """Min-label propagation in SQL until no label changes, or until the time cap.

    Returns (rounds, capped). Each round is one statement that gives every node the smallest
    label among its own and its neighbours', and one that counts the labels that changed.
    """
    started = time.perf_counter()
    con.execute(f"""
        create or replace table {SCHEMA}.bench_lp_adjacency as
        select node_key_1 as node, node_key_2 as neighbour from {SCHEMA}.int_idstitch__edges
        union all
        select node_key_2, node_key_1 from {SCHEMA}.int_idstitch__edges
    """)
    con.execute(f"""
        create or replace table {SCHEMA}.bench_lp_labels as
        select node_key as node, node_key as label from {SCHEMA}.int_idstitch__nodes
    """)
    rounds = 0
    while True:
        rounds += 1
        con.execute(f"""
            create or replace table {SCHEMA}.bench_lp_next as
            with neighbour_min as (
                select adjacency.node, min(labels.label) as label
                from {SCHEMA}.bench_lp_adjacency as adjacency
                inner join {SCHEMA}.bench_lp_labels as labels
                    on adjacency.neighbour = labels.node
                group by adjacency.node
            )
            select
                labels.node,
                least(labels.label, coalesce(neighbour_min.label, labels.label)) as label
            from {SCHEMA}.bench_lp_labels as labels
            left join neighbour_min on labels.node = neighbour_min.node
        """)
        changed = int(
            _one(
                con,
                f"""select count(*) from {SCHEMA}.bench_lp_next as next_labels
                inner join {SCHEMA}.bench_lp_labels as labels on next_labels.node = labels.node
                where next_labels.label != labels.label""",
            )
        )
        con.execute(f"drop table {SCHEMA}.bench_lp_labels")
        con.execute(f"alter table {SCHEMA}.bench_lp_next rename to bench_lp_labels")
        if changed == 0:
            return rounds, False
        if time.perf_counter() - started > cap_seconds:
            return rounds, True


# --- the floor ----------------------------------------------------------------------------
#
# What any correct stitcher has to do for the build's job, done the fast way in this process:
# DuckDB for the set work on strings, integer node keys assigned once, numpy and scipy for the
# components. It computes idstitch's result (README, docs/semantics.md) only where plain
# connected components is that result, which holds on the bench's data:
#
# - every source with rows is a `merge` source (the bench leaves crm_contacts, the demo's
#   `strict` source with an alias column, empty), and `bench_vars()` drops the limits and the
#   shared identifiers, so an event joins all its identifiers into one profile (§3);
# - idstitch normalizes by type (§1: emails lower-cased and shape-checked, phones to E.164,
#   other types as they are, blocked values rejected); every value the bench generates is
#   lower-case ASCII without blanks that no rule rejects (`n12`, `a3_1`, `person3@example.com`),
#   so trimming and lower-casing is the whole of it here, and the floor does no more;
# - the bench's event ids are unique within a source and carry no surrounding blanks, so the
#   floor neither deduplicates copies nor trims ids (§2).
#
# `_check_floor` compares its tables with the build's marts row for row on every graph, so
# none of this can silently go wrong.

FLOOR_MAPPINGS = "bench_floor_mappings"  # id_type, id_value, rudder_id
FLOOR_EVENTS = "bench_floor_events"  # source, event_id, rudder_id
# the floor's scratch tables, in DuckDB's temporary (in-memory) catalog
_FLOOR_SCRATCH = ("bench_floor_cells", "bench_floor_nodes", "bench_floor_events_keys")


def floor_sources(config: Config) -> list[tuple[Source, str]]:
    """Every source the build reads, manual merges included, with its raw table."""
    out = []
    for source in (*config.sources, manual_merges_source(config)):
        if source.source is None or not source.source.startswith("demo."):
            raise ValueError(f"the bench writes only the demo's raw tables, not {source}")
        out.append((source, f"{RAW_SCHEMA}.{source.source.split('.', 1)[1]}"))
    return out


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _floor_cells_sql(config: Config) -> str:
    """One scan of every raw table: a row per (event, id_type, value) with a value left.

    Each raw row yields two lists of equal length, types and values (an identifier column's
    type is a constant, a pair's comes from its type column, trimmed and lower-cased), which
    DuckDB unnests side by side; the values are trimmed and lower-cased before the unnest so
    that the filter on them does not compute them twice.
    """
    blanks = " || ".join(f"chr({ord(c)})" for c in TRIM_CHARS)

    def norm(column: str) -> str:
        return f'lower(trim(cast("{column}" as varchar), {blanks}))'

    scans = []
    for number, (source, table) in enumerate(floor_sources(config)):
        types = [_literal(c.id_type) for c in source.identifiers]
        types += [norm(p.type_column) for p in source.pairs]
        values = [norm(c.column) for c in source.identifiers]
        values += [norm(p.value_column) for p in source.pairs]
        scans.append(f"""
            select
                {number} as source_no,
                cast("{source.event_id}" as varchar) as event_id,
                try_cast("{source.occurred_at}" as timestamp) as occurred_at,
                unnest([{", ".join(types)}]) as id_type,
                unnest([{", ".join(values)}]) as id_value
            from {table}""")
    known = ", ".join(_literal(t.name) for t in config.id_types)
    return f"""
        select * from ({" union all ".join(scans)}) as cells
        where id_value != ''
            and id_type in ({known})
            and event_id is not null
            and occurred_at is not null
    """


def floor_stitch(con: duckdb.DuckDBPyConnection, config: Config) -> int:
    """The floor: the build's mapping and identified events, written to FLOOR_MAPPINGS and
    FLOOR_EVENTS. Returns the number of nodes."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    cells, nodes, events = _FLOOR_SCRATCH
    priority = " ".join(f"when {_literal(t.name)} then {t.priority}" for t in config.id_types)
    names = " ".join(
        f"when {number} then {_literal(source.name)}"
        for number, (source, _) in enumerate(floor_sources(config))
    )
    # 1-3: the identifiers of every event, unpivoted, trimmed and lower-cased, blanks dropped
    con.execute(f"create or replace temp table {cells} as {_floor_cells_sql(config)}")
    # 4: the distinct nodes and their first time. Keys are numbered in idstitch's order of
    # age (first time, then type priority, then value), so the smallest key of a component is
    # the node that names it (docs/semantics.md §4).
    con.execute(f"""
        create or replace temp table {nodes} as
        select
            row_number() over (order by first_seen, priority, id_value) - 1 as node_key,
            id_type,
            id_value
        from (
            select id_type, id_value, case id_type {priority} end as priority,
                min(occurred_at) as first_seen
            from {cells}
            group by id_type, id_value
        )
    """)
    # 5: per event, its node keys and the one they are linked to. idstitch's anchor is the
    # event's first identifier by priority, then value; the smallest key serves as well,
    # since all the identifiers of an event end in one component (the pair (anchor, anchor)
    # is a self-loop, which changes no component).
    con.execute(f"""
        create or replace temp table {events} as
        select
            cells.source_no,
            cells.event_id,
            min(nodes.node_key) as anchor,
            list(nodes.node_key) as node_keys
        from {cells} as cells
        inner join {nodes} as nodes using (id_type, id_value)
        group by cells.source_no, cells.event_id
    """)
    con.execute(f"drop table {cells}")
    edges = con.execute(f"select anchor, unnest(node_keys) as node_key from {events}").fetchnumpy()
    n = int(_one(con, f"select count(*) from {nodes}"))
    # 6: connected components on the integer keys
    a = np.asarray(edges["anchor"], dtype=np.int64)
    b = np.asarray(edges["node_key"], dtype=np.int64)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    count, labels = connected_components(graph, directed=False)
    first = np.full(count, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n, dtype=np.int64))  # each component's oldest node
    # 7: the rudder_id of each component, then of each node and each event
    con.register("bench_floor_labels", {"node_key": np.arange(n), "component": labels})
    con.register("bench_floor_first", {"component": np.arange(count), "node_key": first})
    try:
        con.execute(f"""
            create or replace temp table bench_floor_ids as
            select first.component, md5(nodes.id_type || ':' || nodes.id_value) as rudder_id
            from bench_floor_first as first
            inner join {nodes} as nodes using (node_key)
        """)
        con.execute(f"""
            create or replace table {SCHEMA}.{FLOOR_MAPPINGS} as
            select nodes.id_type, nodes.id_value, ids.rudder_id
            from {nodes} as nodes
            inner join bench_floor_labels as labels using (node_key)
            inner join bench_floor_ids as ids using (component)
        """)
        con.execute(f"""
            create or replace table {SCHEMA}.{FLOOR_EVENTS} as
            select
                case events.source_no {names} end as source,
                events.event_id,
                ids.rudder_id
            from {events} as events
            inner join bench_floor_labels as labels on events.anchor = labels.node_key
            inner join bench_floor_ids as ids using (component)
        """)
    finally:
        con.unregister("bench_floor_labels")
        con.unregister("bench_floor_first")
        for table in (nodes, events, "bench_floor_ids"):
            con.execute(f"drop table if exists {table}")
    return n


def _check_floor(con: duckdb.DuckDBPyConnection) -> None:
    """The floor's tables must hold exactly the rows of the build's marts (as multisets)."""
    for mart, floor, columns in (
        ("rudder_identity_mappings", FLOOR_MAPPINGS, "id_type, id_value, rudder_id"),
        ("rudder_identified_events", FLOOR_EVENTS, "source, event_id, rudder_id"),
    ):
        ours, theirs = (f"select {columns} from {SCHEMA}.{t}" for t in (mart, floor))
        missing, extra = con.execute(f"""
            select
                (select count(*) from ({ours} except all {theirs})),
                (select count(*) from ({theirs} except all {ours}))
        """).fetchall()[0]
        if missing or extra:
            raise AssertionError(
                f"the floor disagrees with idstitch's {mart}: {missing} of idstitch's rows "
                f"are not the floor's, {extra} of the floor's rows are not idstitch's"
            )


def _check_same_partition(con: duckdb.DuckDBPyConnection, table: str, column: str) -> None:
    """idstitch's components and another method's labels must be the same partition."""
    ours, theirs, pairs, missing = con.execute(f"""
        select
            count(distinct components.component_key),
            count(distinct other.{column}),
            count(distinct (components.component_key, other.{column})),
            count(*) filter (where other.node_key is null)
        from {SCHEMA}.{COMPONENTS_MODEL} as components
        left join {SCHEMA}.{table} as other on components.node_key = other.node_key
    """).fetchall()[0]
    if missing or not ours == theirs == pairs:
        raise AssertionError(
            f"idstitch and {table} disagree: {ours} vs {theirs} components, "
            f"{pairs} distinct pairs, {missing} nodes missing"
        )


# --- one run ------------------------------------------------------------------------------


@dataclass
class BenchRun:
    """Everything measured in one `idstitch bench` run."""

    measurements: list[Measurement] = field(default_factory=list)
    machine: str = ""
    # graph -> [(model, seconds)] of its dbt build, slowest first: where the build's time goes
    model_seconds: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


def machine_description() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    return f"{psutil.cpu_count()} cores (nproc), {memory:.0f} GiB memory, {cpu}"


def run_bench(
    specs: Sequence[GraphSpec],
    workdir: Path,
    label_cap_seconds: float,
    progress: Callable[[str], None] = lambda _: None,
) -> BenchRun:
    """Generate each graph and measure the methods on it; see the module's docstring."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "bench.duckdb"
    for stale in (path, workdir / "bench.duckdb.wal"):
        stale.unlink(missing_ok=True)
    variables = bench_vars()
    project = DbtProject(duckdb_path=path, vars=variables)
    config = parse_config(variables["idstitch"])
    run = BenchRun(machine=machine_description())
    import scipy.sparse.csgraph  # type: ignore[import-untyped]  # noqa: F401  (imported before any timing starts)

    con = duckdb.connect(str(path))
    try:
        write_graph(con, GraphSpec("path", 2))
        progress("parsing the dbt project")
        project.invoke(["parse", "--quiet"])  # so that no graph pays for the first full parse
        for spec in specs:
            rows, models = _bench_graph(con, project, config, spec, label_cap_seconds, progress)
            run.measurements += rows
            run.model_seconds[spec.name] = models
    finally:
        con.close()
        for stale in (path, workdir / "bench.duckdb.wal"):
            stale.unlink(missing_ok=True)
        shutil.rmtree(workdir / "bench.duckdb.tmp", ignore_errors=True)
    return run


def _bench_graph(
    con: duckdb.DuckDBPyConnection,
    project: DbtProject,
    config: Config,
    spec: GraphSpec,
    label_cap_seconds: float,
    progress: Callable[[str], None],
) -> tuple[list[Measurement], list[tuple[str, float]]]:
    con.execute(f"drop schema if exists {SCHEMA} cascade")
    progress(f"{spec.name}: writing raw events")
    write_graph(con, spec)
    con.execute("checkpoint")

    progress(f"{spec.name}: dbt build")
    with measured() as build:
        built = project.invoke(BUILD_ARGS)
    models = sorted(
        ((r.node.name, float(r.execution_time)) for r in built.results),
        key=lambda pair: -pair[1],
    )
    nodes = int(_one(con, f"select count(*) from {SCHEMA}.int_idstitch__nodes"))
    edges = int(_one(con, f"select count(*) from {SCHEMA}.int_idstitch__edges"))
    build_rounds = int(_one(con, f"select count(*) from {SCHEMA}.{COMPONENTS_MODEL}__log"))

    # after the build: dbt shares this process's DuckDB database and sets the profile's
    # settings on it (memory limit, insertion order) when it connects, so from here on the
    # floor works under the same settings as the build
    progress(f"{spec.name}: floor")
    with measured() as floor:
        floor_stitch(con, config)
    _check_floor(con)

    progress(f"{spec.name}: components model alone")
    with measured() as components:
        result = project.invoke(["run", "--quiet", "--select", COMPONENTS_MODEL])
    model_seconds = sum(r.execution_time for r in result.results)
    rounds = int(_one(con, f"select count(*) from {SCHEMA}.{COMPONENTS_MODEL}__log"))

    progress(f"{spec.name}: scipy")
    with measured() as scipy:
        scipy_components(con)
    _check_same_partition(con, "bench_scipy_components", "component")

    progress(f"{spec.name}: label propagation (cap {label_cap_seconds:g} s)")
    with measured() as labels:
        lp_rounds, capped = label_propagation(con, label_cap_seconds)
    if not capped:
        con.execute(f"alter table {SCHEMA}.bench_lp_labels rename column node to node_key")
        _check_same_partition(con, "bench_lp_labels", "label")

    def row(method: str, m: dict[str, float], seconds: float, rounds: int | None) -> Measurement:
        return Measurement(spec.name, nodes, edges, method, seconds, rounds, False, int(m["peak"]))

    rows = [
        row(METHOD_BUILD, build, build["seconds"], build_rounds),
        row(METHOD_FLOOR, floor, floor["seconds"], None),
        row(METHOD_COMPONENTS, components, model_seconds, rounds),
        row(METHOD_SCIPY, scipy, scipy["seconds"], None),
        row(METHOD_LABELS, labels, labels["seconds"], lp_rounds),
    ]
    rows[-1].capped = capped
    for r in rows:
        r.ratio_to_scipy = r.seconds / scipy["seconds"]
        r.ratio_to_floor = r.seconds / floor["seconds"]
    return rows, models


# --- output -------------------------------------------------------------------------------


def _short(n: int) -> str:
    for unit, scale in (("M", 1_000_000), ("k", 1_000)):
        if n >= scale and n % (scale // 10) == 0:
            value = n / scale
            return f"{value:g}{unit}"
    return str(n)


def parse_size(text: str) -> int:
    """A node count such as 100000, 100k, 1M or 2.5M."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale != 1 else text
    value = float(number) * scale
    if value < 2 or value != int(value):
        raise ValueError(f"not a node count of at least 2: {text!r}")
    return int(value)


def _seconds(m: Measurement) -> str:
    return f"> {m.seconds:.1f}" if m.capped else f"{m.seconds:.2f}"


def _ratio(m: Measurement, ratio: float | None) -> str:
    if ratio is None:
        return ""
    return f"> {ratio:.1f}x" if m.capped else f"{ratio:.1f}x"


def _memory(m: Measurement) -> str:
    return "" if m.peak_memory_bytes is None else f"{m.peak_memory_bytes / 2**20:,.0f}"


def results_table(run: BenchRun) -> Table:
    table = Table(title=f"idstitch bench — {run.machine}", caption=METHODS_NOTE)
    for name in (
        "graph",
        "nodes",
        "edges",
        "method",
        "rounds",
        "seconds",
        "vs scipy",
        "vs floor",
        "peak MiB",
    ):
        table.add_column(name, justify="left" if name in ("graph", "method") else "right")
    previous = None
    for m in run.measurements:
        first = m.graph != previous
        if first and previous is not None:
            table.add_section()
        previous = m.graph
        table.add_row(
            m.graph if first else "",
            f"{m.nodes:,}" if first else "",
            f"{m.edges:,}" if first else "",
            m.method,
            "" if m.rounds is None else str(m.rounds),
            _seconds(m),
            _ratio(m, m.ratio_to_scipy),
            _ratio(m, m.ratio_to_floor),
            _memory(m),
        )
    return table


def build_over_floor(run: BenchRun) -> str:
    """One line: the build's time as a multiple of the floor's, per graph."""
    ratios = [
        f"{m.graph} {m.ratio_to_floor:.1f}x"
        for m in run.measurements
        if m.method == METHOD_BUILD and m.ratio_to_floor is not None
    ]
    return "build / floor: " + ", ".join(ratios)


def markdown_table(run: BenchRun) -> str:
    """The results as a Markdown table, for the README."""
    lines = [
        "| graph | nodes | edges | method | rounds | seconds | vs scipy | vs floor | peak MiB |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for m in run.measurements:
        rounds = "" if m.rounds is None else str(m.rounds)
        lines.append(
            f"| {m.graph} | {m.nodes:,} | {m.edges:,} | {m.method} | {rounds} | "
            f"{_seconds(m)} | {_ratio(m, m.ratio_to_scipy)} | {_ratio(m, m.ratio_to_floor)} | "
            f"{_memory(m)} |"
        )
    return "\n".join(lines) + "\n"


def write_csv(run: BenchRun, path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "graph",
                "nodes",
                "edges",
                "method",
                "rounds",
                "round_bound",
                "seconds",
                "capped",
                "ratio_to_scipy",
                "ratio_to_floor",
                "peak_memory_mib",
            ]
        )
        for m in run.measurements:
            writer.writerow(
                [
                    m.graph,
                    m.nodes,
                    m.edges,
                    m.method,
                    "" if m.rounds is None else m.rounds,
                    f"{m.round_bound:.1f}",
                    f"{m.seconds:.3f}",
                    m.capped,
                    "" if m.ratio_to_scipy is None else f"{m.ratio_to_scipy:.2f}",
                    "" if m.ratio_to_floor is None else f"{m.ratio_to_floor:.2f}",
                    "" if m.peak_memory_bytes is None else f"{m.peak_memory_bytes / 2**20:.0f}",
                ]
            )


def read_csv(path: Path) -> Iterator[Measurement]:
    """The measurements of a bench.csv, as written by write_csv."""
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            yield Measurement(
                graph=row["graph"],
                nodes=int(row["nodes"]),
                edges=int(row["edges"]),
                method=row["method"],
                seconds=float(row["seconds"]),
                rounds=int(row["rounds"]) if row["rounds"] else None,
                capped=row["capped"] == "True",
                peak_memory_bytes=int(float(row["peak_memory_mib"]) * 2**20)
                if row["peak_memory_mib"]
                else None,
                ratio_to_scipy=float(row["ratio_to_scipy"]) if row["ratio_to_scipy"] else None,
                # absent from the files of bench runs before the floor
                ratio_to_floor=float(row["ratio_to_floor"]) if row.get("ratio_to_floor") else None,
            )


def write_plot(run: BenchRun, path: Path) -> None:
    """Seconds per graph and method on a log scale; capped bars are hatched."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graphs = list(dict.fromkeys(m.graph for m in run.measurements))
    methods = list(dict.fromkeys(m.method for m in run.measurements))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.4 * len(graphs)), 5.0))
    for k, method in enumerate(methods):
        for g, graph in enumerate(graphs):
            for m in run.measurements:
                if m.graph == graph and m.method == method:
                    ax.bar(
                        g + (k - (len(methods) - 1) / 2) * width,
                        m.seconds,
                        width,
                        color=f"C{k}",
                        hatch="//" if m.capped else None,
                        label=method if g == 0 else None,
                    )
    ax.set_xticks(range(len(graphs)), graphs, rotation=20)
    ax.set_yscale("log")
    ax.set_ylabel("seconds (log scale; hatched = stopped at the cap)")
    ax.set_title(f"idstitch bench — {run.machine}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def round_violations(run: BenchRun) -> list[str]:
    """idstitch measurements whose rounds exceed log2(nodes) + 5."""
    return [
        f"{m.graph}: {m.method} took {m.rounds} rounds > log2({m.nodes}) + 5 = {m.round_bound:.1f}"
        for m in run.measurements
        if m.method in (METHOD_BUILD, METHOD_COMPONENTS)
        and m.rounds is not None
        and m.rounds > m.round_bound
    ]


def print_and_save(run: BenchRun, out: Path, console: Console) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    console.print(results_table(run))
    console.print(build_over_floor(run))
    files = [out / "bench.csv", out / "bench.md", out / "bench.png", out / "bench_models.csv"]
    write_csv(run, files[0])
    with files[3].open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["graph", "model", "seconds"])
        for graph, models in run.model_seconds.items():
            writer.writerows((graph, model, f"{seconds:.3f}") for model, seconds in models)
    files[1].write_text(
        f"Machine: {run.machine}\n\n{METHODS_NOTE}\n\n"
        + markdown_table(run)
        + f"\n{build_over_floor(run)}\n"
    )
    write_plot(run, files[2])
    return files


if __name__ == "__main__":
    # `python -m idstitch.bench` takes the options of `idstitch bench`
    from idstitch.cli import bench as bench_command

    bench_command()
