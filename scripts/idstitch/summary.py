"""The short summary of a build: what went in, what came out, how the loop converged."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

SCHEMA = "idstitch"


@dataclass(frozen=True)
class Summary:
    raw_rows: int
    events: int
    identified_events: int
    rejected_events: dict[str, int]
    identifiers: int
    rejected_identifiers: dict[str, int]
    edges: int
    edges_refused: int
    limit_violations: dict[str, int]
    skipped_aliases: dict[str, int]
    shared_identifiers: int
    profiles: int
    iterations: int
    resolution_rounds: int
    full_refresh: bool
    new_copies: int
    events_resolved: int
    id_changes: int


def read_summary(path: Path, schema: str = SCHEMA) -> Summary:
    """Read the summary numbers from the marts of a DuckDB build."""
    con = duckdb.connect(str(path))
    # the catalog takes the file's name, which may equal the schema's: name tables unqualified
    con.execute(f"set schema = '{schema}'")
    try:

        def one(sql: str) -> int:
            row = con.execute(sql).fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        def by_reason(table: str) -> dict[str, int]:
            rows = con.execute(
                f"select reason, count(*) from {table} group by reason order by reason"
            ).fetchall()
            return {r: int(n) for r, n in rows}

        last_run = "(select run_id from idstitch_run_log order by started_at desc limit 1)"
        last_batch = "run_number = (select max(run_number) from idstitch_batches)"
        return Summary(
            raw_rows=one("select count(*) from stg_idstitch__events"),
            events=one(
                "select count(*) from (select distinct source, event_id from stg_idstitch__events)"
            ),
            identified_events=one("select count(*) from rudder_identified_events"),
            rejected_events=by_reason("idstitch_rejected_events"),
            identifiers=one("select count(*) from rudder_identity_mappings"),
            rejected_identifiers=by_reason("idstitch_rejected_identifiers"),
            edges=one("select count(*) from rudder_identity_merge_rules"),
            edges_refused=one("select count(*) from rudder_identity_merge_rules where not applied"),
            limit_violations=by_reason("idstitch_limit_violations"),
            skipped_aliases=by_reason("idstitch_skipped_aliases"),
            shared_identifiers=one(
                "select count(distinct id_type || ':' || id_value) from idstitch_shared_identifiers"
            ),
            profiles=one("select count(*) from rudder_profiles"),
            iterations=one(
                "select max(iteration) from idstitch_run_log"
                f" where run_id = {last_run} and step = 'connected_components'"
            ),
            resolution_rounds=one(
                "select max(iteration) from idstitch_run_log"
                f" where run_id = {last_run} and step = 'constrained_resolution'"
            ),
            full_refresh=bool(
                one(
                    f"select max(case when full_refresh then 1 else 0 end) from idstitch_batches"
                    f" where {last_batch}"
                )
            ),
            new_copies=one(f"select sum(copy_count) from idstitch_batches where {last_batch}"),
            events_resolved=one(
                f"select max(events_resolved) from idstitch_batches where {last_batch}"
            ),
            id_changes=one(
                "select count(*) from rudder_id_lineage where run_id ="
                f" (select max(run_id) from idstitch_batches where {last_batch})"
            ),
        )
    finally:
        con.close()


def print_summary(console: Console, s: Summary, seconds: float | None) -> None:
    table = Table(title="idstitch summary", show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("last run", "full rebuild" if s.full_refresh else "incremental")
    table.add_row("  new raw copies", str(s.new_copies))
    table.add_row("  events resolved", str(s.events_resolved))
    table.add_row("  id changes (rudder_id_lineage)", str(s.id_changes))
    table.add_row("raw rows read", str(s.raw_rows))
    table.add_row("events (source, event_id)", str(s.events))
    table.add_row("events identified", str(s.identified_events))
    table.add_row("events rejected", str(sum(s.rejected_events.values())))
    for reason, n in s.rejected_events.items():
        table.add_row(f"  {reason}", str(n))
    table.add_row("identifiers (nodes)", str(s.identifiers))
    table.add_row("identifier values rejected", str(sum(s.rejected_identifiers.values())))
    for reason, n in s.rejected_identifiers.items():
        table.add_row(f"  {reason}", str(n))
    table.add_row("edges (merge rules)", str(s.edges))
    table.add_row("  refused by a rule", str(s.edges_refused))
    table.add_row("limit violations", str(sum(s.limit_violations.values())))
    for reason, n in s.limit_violations.items():
        table.add_row(f"  {reason}", str(n))
    table.add_row("skipped aliases", str(sum(s.skipped_aliases.values())))
    for reason, n in s.skipped_aliases.items():
        table.add_row(f"  {reason}", str(n))
    table.add_row("shared identifiers", str(s.shared_identifiers))
    table.add_row("profiles (rudder_ids)", str(s.profiles))
    table.add_row("connected-components iterations", str(s.iterations))
    table.add_row("constrained-resolution rounds", str(s.resolution_rounds))
    if seconds is not None:
        table.add_row("seconds", f"{seconds:.1f}")
    console.print(table)
