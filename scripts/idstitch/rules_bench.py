"""What the resolution rules cost: the same data built with limits and without, in one run.

    python -m idstitch.rules_bench [--people 250000] [--conflict-share 0.01] [--hub 10000]

1. About four events per person (so ~1M events for 250k people): anonymous sessions, a
   device, a login with a user id and an email. A share of the people (1% by default) share
   their device with one other person, each with their own user id: with `user_id` limited
   to 1 those components conflict and take the ordered path; all others are plain components.
   The full `dbt build` (models only) is timed with the limits and with every limit removed;
   the ratio of the two is the cost of the rules. A third build adds a limit over a period
   (docs/semantics.md §3b), `anonymous_id: {count: 1, per: week}`: every person has two
   anonymous ids, so every component holds more values than the count. Only the components
   where both ids are seen within one week take the ordered path, where the window decides;
   the others are plain components (a person's events are spread over about three years).
2. A hub: one device shared by `--hub` user ids (limit 1). It must finish; the rounds of the
   constrained resolution are read from idstitch_run_log.

Times are wall-clock seconds of one run each on this machine; compare the ratio, not the
absolute numbers.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table

from idstitch.runner import DbtProject

RAW = "idstitch_raw"
EMPTY_TABLES = {
    "raw_app_events": "event_id varchar, sent_at timestamp",
    "raw_merge_events": "message_id varchar, timestamp timestamp",
    "raw_webinar_leads": "lead_id varchar, registered_at timestamp",
    "raw_crm_contacts": "contact_id varchar, updated_at timestamp",
    "raw_manual_merges": (
        "merge_id varchar, merged_at timestamp, id1_type varchar, id1_value varchar,"
        " id2_type varchar, id2_value varchar, note varchar"
    ),
    "raw_never_merge": (
        "pair_id varchar, id1_type varchar, id1_value varchar, id2_type varchar,"
        " id2_value varchar, note varchar"
    ),
}
WEB_COLUMNS = (
    "message_id, timestamp, event, anonymous_id, user_id, context_traits_email,"
    " context_device_id, first_name, last_name"
)


def bench_config(limits: bool, period: bool = False) -> dict[str, Any]:
    """A one-source configuration (web tracks), with or without per-type limits; with
    `period`, also one anonymous id a week."""
    id_types: list[dict[str, Any]] = [
        {"name": "user_id", "limit": 1},
        {"name": "email", "normalize": "email", "limit": 3},
        {"name": "anonymous_id"},
        {"name": "device_id"},
    ]
    if period:
        id_types[2] = {"name": "anonymous_id", "limit": {"count": 1, "per": "week"}}
    if not limits:
        id_types = [{k: v for k, v in t.items() if k != "limit"} for t in id_types]
    return {
        "id_types": id_types,
        "blocked_values": {"exact": ["-1", "null", "anonymous"], "patterns": ["^[0-]*$"]},
        # the (empty) rule tables beside the raw events, as the demo's var names them
        "manual_merges": {"source": "demo.raw_manual_merges"},
        "never_merge": {"source": "demo.raw_never_merge"},
        "sources": [
            {
                "name": "web_tracks",
                "source": "demo.raw_web_tracks",
                "event_id": "message_id",
                "occurred_at": "timestamp",
                "strategy": "merge",
                "identifiers": {
                    "anonymous_id": "anonymous_id",
                    "user_id": "user_id",
                    "context_traits_email": "email",
                    "context_device_id": "device_id",
                },
            }
        ],
    }


def _create_raw(path: Path, web_sql: str) -> int:
    con = duckdb.connect(str(path))
    try:
        con.execute(f"create schema if not exists {RAW}")
        for table, columns in EMPTY_TABLES.items():
            con.execute(f"create or replace table {RAW}.{table} ({columns})")
        con.execute(f"create or replace table {RAW}.raw_web_tracks as {web_sql}")
        row = con.execute(f"select count(*) from {RAW}.raw_web_tracks").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def people_events_sql(people: int, conflict_share: float) -> str:
    """Four events per person; every `1/conflict_share`-th pair of people shares a device."""
    period = max(2, round(2 / conflict_share)) if conflict_share > 0 else 0
    shared = f"p % {period} < 2" if period else "false"
    return f"""
        select
            'e' || p || '_' || k as message_id,
            timestamp '2024-01-01'
                + to_seconds(cast(hash(p, k) % 100000000 as bigint)) as timestamp,
            'page_viewed' as event,
            'a' || p || '_' || (k % 2) as anonymous_id,
            case when k >= 2 then 'u' || p end as user_id,
            case when k = 3 then 'p' || p || '@example.com' end as context_traits_email,
            case when {shared} then 'shared' || (p // 2) else 'd' || p end as context_device_id,
            cast(null as varchar) as first_name,
            cast(null as varchar) as last_name
        from range({people}) as people(p), range(4) as events(k)
    """


def hub_events_sql(users: int) -> str:
    """One device shared by `users` user ids, each seen once with it."""
    return f"""
        select
            'h' || u as message_id,
            timestamp '2024-01-01' + to_seconds(u) as timestamp,
            'signed_in' as event,
            'ha' || u as anonymous_id,
            'hu' || u as user_id,
            cast(null as varchar) as context_traits_email,
            'the-kiosk' as context_device_id,
            cast(null as varchar) as first_name,
            cast(null as varchar) as last_name
        from range({users}) as users(u)
    """


def _build(path: Path, limits: bool, period: bool = False) -> float:
    project = DbtProject(duckdb_path=path, vars={"idstitch": bench_config(limits, period)})
    started = time.perf_counter()
    project.invoke(
        [
            "build",
            "--exclude",
            "resource_type:seed",
            "resource_type:test",
            "resource_type:unit_test",
            "--quiet",
        ]
    )
    return time.perf_counter() - started


def _rounds(path: Path, step: str) -> int:
    con = duckdb.connect(str(path))
    try:
        con.execute("set schema = 'idstitch'")
        row = con.execute(
            "select max(iteration) from idstitch_run_log where step = ?"
            " and run_id = (select max_by(run_id, started_at) from idstitch_run_log)",
            [step],
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0
    finally:
        con.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--people",
        type=int,
        default=250_000,
        help="people in the main graph (about four events each)",
    )
    parser.add_argument(
        "--conflict-share",
        type=float,
        default=0.01,
        help="share of people who share a device with another person",
    )
    parser.add_argument(
        "--hub", type=int, default=10_000, help="user ids on the one shared device of the hub graph"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to put the DuckDB files (default: a temporary folder)",
    )
    args = parser.parse_args(argv)
    console = Console()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="idstitch-rules-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)

    table = Table(title="idstitch rules benchmark (one run)")
    for column in (
        "graph",
        "events",
        "limits",
        "seconds",
        "ratio",
        "cc rounds",
        "resolution rounds",
    ):
        table.add_column(column, justify="right" if column != "graph" else "left")

    times: dict[str, float] = {}
    for name, limits, period in (
        ("off", False, False),
        ("on", True, False),
        ("+ weekly", True, True),
    ):
        path = workdir / f"people_{name.strip('+ ')}.duckdb"
        events = _create_raw(path, people_events_sql(args.people, args.conflict_share))
        times[name] = _build(path, limits, period)
        table.add_row(
            f"{args.people:,} people, {args.conflict_share:.0%} in conflict",
            f"{events:,}",
            name,
            f"{times[name]:.1f}",
            f"{times[name] / times['off']:.2f}",
            str(_rounds(path, "connected_components")),
            str(_rounds(path, "constrained_resolution")),
        )
    hub_path = workdir / "hub.duckdb"
    hub_events = _create_raw(hub_path, hub_events_sql(args.hub))
    hub_seconds = _build(hub_path, limits=True)
    table.add_row(
        f"one device, {args.hub:,} user ids",
        f"{hub_events:,}",
        "on",
        f"{hub_seconds:.1f}",
        "",
        str(_rounds(hub_path, "connected_components")),
        str(_rounds(hub_path, "constrained_resolution")),
    )
    console.print(table)
    console.print(f"limits on / limits off: {times['on'] / times['off']:.2f}x (target: at most 2x)")
    console.print(
        f"with anonymous_id limited per week / limits off: {times['+ weekly'] / times['off']:.2f}x"
        " (the components with both anonymous ids within a week on the ordered path)"
    )


if __name__ == "__main__":
    main()
