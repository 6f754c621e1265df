"""The short summary of a build: what went in, what came out, how the loop converged."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table

from idstitch.runner import DbtError, DbtProject

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
    loop_requests: int
    full_refresh: bool
    new_copies: int
    events_resolved: int
    id_changes: int
    # limit_exceeded refusals (violations and skipped aliases) by the type whose limit bound
    limit_types: dict[str, int] = field(default_factory=dict)


# the models the summary reads; a query names each as {model}
TABLES = (
    "stg_idstitch__events",
    "rudder_identified_events",
    "idstitch_rejected_events",
    "rudder_identity_mappings",
    "idstitch_rejected_identifiers",
    "rudder_identity_merge_rules",
    "idstitch_limit_violations",
    "idstitch_skipped_aliases",
    "idstitch_shared_identifiers",
    "rudder_profiles",
    "idstitch_run_log",
    "idstitch_batches",
    "rudder_id_lineage",
)
_LAST_RUN = "(select run_id from {idstitch_run_log} order by started_at desc limit 1)"
_LAST_BATCH = "run_number = (select max(run_number) from {idstitch_batches})"
# one number each
COUNTS = {
    "raw_rows": "select count(*) from {stg_idstitch__events}",
    "events": "select count(*) from (select distinct source, event_id from {stg_idstitch__events})"
    " as events",
    "identified_events": "select count(*) from {rudder_identified_events}",
    "identifiers": "select count(*) from {rudder_identity_mappings}",
    "edges": "select count(*) from {rudder_identity_merge_rules}",
    "edges_refused": "select count(*) from {rudder_identity_merge_rules} where not applied",
    "shared_identifiers": "select count(distinct id_type || ':' || id_value)"
    " from {idstitch_shared_identifiers}",
    "profiles": "select count(*) from {rudder_profiles}",
    "iterations": "select max(iteration) from {idstitch_run_log}"
    f" where run_id = {_LAST_RUN} and step = 'connected_components'",
    "resolution_rounds": "select max(iteration) from {idstitch_run_log}"
    f" where run_id = {_LAST_RUN} and step = 'constrained_resolution'",
    # the requests (statements, or BigQuery jobs) the two loop models sent: their `:requests` rows
    "loop_requests": "select sum(rows_changed) from {idstitch_run_log}"
    f" where run_id = {_LAST_RUN} and step like '%:requests'",
    "full_refresh": "select max(case when full_refresh then 1 else 0 end) from {idstitch_batches}"
    f" where {_LAST_BATCH}",
    "new_copies": f"select sum(copy_count) from {{idstitch_batches}} where {_LAST_BATCH}",
    "events_resolved": f"select max(events_resolved) from {{idstitch_batches}} where {_LAST_BATCH}",
    "id_changes": "select count(*) from {rudder_id_lineage} where run_id ="
    f" (select max(run_id) from {{idstitch_batches}} where {_LAST_BATCH})",
}
# rows per reason
BY_REASON = {
    "rejected_events": "idstitch_rejected_events",
    "rejected_identifiers": "idstitch_rejected_identifiers",
    "limit_violations": "idstitch_limit_violations",
    "skipped_aliases": "idstitch_skipped_aliases",
}
QUERY_MACRO = "idstitch_query"


def summary_queries() -> dict[str, str]:
    """Every query of the summary by name, each model named as {model}."""
    queries = dict(COUNTS)
    for name, table in BY_REASON.items():
        queries[name] = f"select reason, count(*) from {{{table}}} group by reason order by reason"
    queries["limit_types"] = (
        "select limit_type, count(*) from (select limit_type from {idstitch_limit_violations}"
        " where reason = 'limit_exceeded' union all select limit_type from"
        " {idstitch_skipped_aliases} where reason = 'limit_exceeded') as refusals"
        " where limit_type is not null group by limit_type order by limit_type"
    )
    return queries


def summary_from(rows: Mapping[str, Sequence[Sequence[Any]]]) -> Summary:
    """The summary from the rows of each of summary_queries()."""

    def whole(value: Any) -> int:
        # a warehouse may hand a count back as a decimal with a fraction of zero ("37.0")
        return int(Decimal(str(value)))

    def one(name: str) -> int:
        got = rows[name]
        return whole(got[0][0]) if got and got[0][0] is not None else 0

    def by_reason(name: str) -> dict[str, int]:
        return {str(reason): whole(n) for reason, n in rows[name]}

    return Summary(
        raw_rows=one("raw_rows"),
        events=one("events"),
        identified_events=one("identified_events"),
        rejected_events=by_reason("rejected_events"),
        identifiers=one("identifiers"),
        rejected_identifiers=by_reason("rejected_identifiers"),
        edges=one("edges"),
        edges_refused=one("edges_refused"),
        limit_violations=by_reason("limit_violations"),
        skipped_aliases=by_reason("skipped_aliases"),
        shared_identifiers=one("shared_identifiers"),
        profiles=one("profiles"),
        iterations=one("iterations"),
        resolution_rounds=one("resolution_rounds"),
        loop_requests=one("loop_requests"),
        limit_types=by_reason("limit_types"),
        full_refresh=bool(one("full_refresh")),
        new_copies=one("new_copies"),
        events_resolved=one("events_resolved"),
        id_changes=one("id_changes"),
    )


def read_summary(path: Path, schema: str = SCHEMA) -> Summary:
    """Read the summary numbers from the marts of a DuckDB build."""
    con = duckdb.connect(str(path))
    # the catalog takes the file's name, which may equal the schema's: name tables unqualified
    con.execute(f"set schema = '{schema}'")
    try:
        return summary_from(
            {
                name: con.execute(_named(sql, {t: t for t in TABLES})).fetchall()
                for name, sql in summary_queries().items()
            }
        )
    finally:
        con.close()


def read_summary_through(project: DbtProject) -> Summary:
    """Read the summary numbers through the dbt adapter of the project's target (any
    warehouse), in one dbt call."""
    lines = project.operation_lines(
        QUERY_MACRO, {"queries": summary_queries(), "tables": list(TABLES)}
    )
    rows = {item["name"]: item["rows"] for item in map(json.loads, lines)}
    missing = set(summary_queries()) - set(rows)
    if missing:
        raise DbtError(f"the macro {QUERY_MACRO} did not answer {sorted(missing)}")
    return summary_from(rows)


def _named(sql: str, relations: Mapping[str, str]) -> str:
    """A query with each {model} replaced by its relation (as the macro does)."""
    for table, relation in relations.items():
        sql = sql.replace("{" + table + "}", relation)
    return sql


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
    if s.limit_types:  # limit_exceeded, of violations and skipped aliases, by the type
        table.add_row("refused by a type's limit", str(sum(s.limit_types.values())))
        for limit_type, n in s.limit_types.items():
            table.add_row(f"  {limit_type}", str(n))
    table.add_row("shared identifiers", str(s.shared_identifiers))
    table.add_row("profiles (rudder_ids)", str(s.profiles))
    table.add_row("connected-components iterations", str(s.iterations))
    table.add_row("constrained-resolution rounds", str(s.resolution_rounds))
    table.add_row("  requests the loops sent", str(s.loop_requests))
    if seconds is not None:
        table.add_row("seconds", f"{seconds:.1f}")
    console.print(table)
