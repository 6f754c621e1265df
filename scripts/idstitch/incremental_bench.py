"""What an incremental run costs next to a full refresh, in one run on the same data.

    python -m idstitch.incremental_bench [--people 105000] [--new-share 0.01] [--seed 5]
        [--arrival random|newest] [--families 0.1]

1. `idstitch generate` data (about 9.5 raw rows per person: ~1M rows for 105k people), every
   raw row stamped with a load time `_loaded_at` as an hourly loader would: the hour after its
   event time (rows without a usable time in a last load), and the demo configuration reading
   it. So the rows at the watermark are one load's, as in a warehouse fed continuously, not
   every row of the table. `--families SHARE` makes that share of households share a tablet
   and an email (see idstitch.generate), so that shared devices and limits bind in a few
   percent of the partitions instead of almost none.
2. A share of the raw rows (1% by default, drawn at random, so many are late: their
   `occurred_at` lies before rows already processed) is held back; the rest is built in full.
3. The held-back rows arrive with a later `_loaded_at`; an incremental run takes them in.
4. A rerun with no new rows (the fixed cost of a scheduled run).
5. A copy of the database is rebuilt with `--full-refresh` over all rows: the reference time,
   and the marts it gives must equal the incremental run's, row for row.

Every run is timed by the wall clock around one dbt invocation of the models (no tests). The
ratio incremental / full refresh is what counts; absolute seconds drift with the machine. A last
line says where the incremental run went: the constrained resolution's rounds and the events
they decided (from idstitch_run_log), and the slowest models (from dbt's run_results.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import yaml
from rich.console import Console
from rich.table import Table

from idstitch.generate import write_duckdb
from idstitch.history_reads import counting
from idstitch.runner import PROJECT_DIR, DbtProject

RAW = "idstitch_raw"
LOADED_AT = "_loaded_at"
HELD_BACK = "idstitch_bench_held_back"
# each raw table: its event id and its event time
RAW_TABLES = {
    "raw_web_tracks": ("message_id", "timestamp"),
    "raw_app_events": ("event_id", "sent_at"),
    "raw_merge_events": ("message_id", "timestamp"),
    "raw_webinar_leads": ("lead_id", "registered_at"),
    "raw_crm_contacts": ("contact_id", "updated_at"),
}
# the generated events lie in the first months of 2024; the rows without a usable time were
# loaded last, and the held-back rows a day after that
LAST_HOURLY_LOAD = "2024-06-01 00:00:00"
RELEASE_LOAD = "2024-06-02 00:00:00"
MARTS = [
    "rudder_identity_mappings",
    "rudder_identity_merge_rules",
    "rudder_profiles",
    "rudder_identified_events",
    "idstitch_rejected_events",
    "idstitch_rejected_identifiers",
    "idstitch_limit_violations",
    "idstitch_skipped_aliases",
    "idstitch_shared_identifiers",
]
# the tables a run keeps for the next one (besides the marts), and the raw tables
HISTORY = {
    *MARTS,
    "int_idstitch__observation_index",
    "int_idstitch__event_copies",
    "stg_idstitch__identifiers",
    "stg_idstitch__traits",
    "idstitch_batches",
    "rudder_id_lineage",
    "idstitch_run_log",
    *RAW_TABLES,
}
MODELS_ONLY = [
    "--exclude",
    "resource_type:seed",
    "resource_type:test",
    "resource_type:unit_test",
    "--quiet",
]


def bench_config() -> dict[str, Any]:
    """The demo configuration, each source finding new rows by their load time."""
    with open(PROJECT_DIR / "dbt_project.yml") as f:
        raw: dict[str, Any] = yaml.safe_load(f)["vars"]["idstitch"]
    for source in raw["sources"]:
        source["loaded_at"] = LOADED_AT
    return raw


def prepare(
    path: Path,
    people: int,
    seed: int,
    new_share: float,
    arrival: str = "random",
    families: float = 0.0,
) -> tuple[int, int]:
    """Generate, stamp every row with its load time, hold back `new_share` of the rows: drawn at
    random (`random`: most of them late), or the rows of the last hourly loads (`newest`: the
    next loads of a schedule, in time order; the rows without a usable time stay, they were
    loaded before them)."""
    write_duckdb(path, people, seed, families=families)
    con = duckdb.connect(str(path))
    try:
        total = held = 0
        for table, (_, occurred_at) in RAW_TABLES.items():
            con.execute(f"alter table {RAW}.{table} add column {LOADED_AT} timestamp")
            con.execute(
                f"update {RAW}.{table} set {LOADED_AT} = coalesce(date_trunc('hour', "
                f'try_cast("{occurred_at}" as timestamp)) + interval 1 hour, '
                f"timestamp '{LAST_HOURLY_LOAD}')"
            )
        # a loader appends each load's rows: the table lies in load order, so that a run's
        # filter on the load time skips the row groups of earlier loads (DuckDB's min/max)
        for table in RAW_TABLES:
            con.execute(
                f"create or replace table {RAW}.{table} as "
                f"select * from {RAW}.{table} order by {LOADED_AT}"
            )
        cutoff = _newest_cutoff(con, new_share) if arrival == "newest" else None
        for table, (event_id, _) in RAW_TABLES.items():
            if cutoff is None:
                pick = (
                    f"hash(coalesce({event_id}, '') || '{seed}') % 1000000 "
                    f"< {int(new_share * 1_000_000)}"
                )
            else:
                pick = (
                    f"{LOADED_AT} >= timestamp '{cutoff}' "
                    f"and {LOADED_AT} < timestamp '{LAST_HOURLY_LOAD}'"
                )
            con.execute(
                f"create or replace table {RAW}.{HELD_BACK}_{table} as "
                f"select * from {RAW}.{table} where {pick}"
            )
            con.execute(f"delete from {RAW}.{table} where {pick}")
            total += _count(con, f"{RAW}.{table}")
            held += _count(con, f"{RAW}.{HELD_BACK}_{table}")
        con.execute("checkpoint")
        return total + held, held
    finally:
        con.close()


def _newest_cutoff(con: duckdb.DuckDBPyConnection, share: float) -> str:
    """The load time from which the hourly loads hold `share` of all raw rows."""
    loads = " union all ".join(
        f"select {LOADED_AT} from {RAW}.{table} where {LOADED_AT} < timestamp '{LAST_HOURLY_LOAD}'"
        for table in RAW_TABLES
    )
    total = sum(_count(con, f"{RAW}.{table}") for table in RAW_TABLES)
    row = con.execute(
        f"select min({LOADED_AT}) from (select {LOADED_AT}, count(*) over (order by "
        f"{LOADED_AT} desc) as rows_after from ({loads})) as loads where rows_after <= ?",
        [int(share * total)],
    ).fetchone()
    if row is None or row[0] is None:
        raise SystemExit(f"no hourly load is small enough for --new-share {share}")
    return str(row[0])


def release(path: Path) -> None:
    """The held-back rows arrive, loaded a day later."""
    con = duckdb.connect(str(path))
    try:
        for table in RAW_TABLES:
            con.execute(
                f"insert into {RAW}.{table} by name select * replace "
                f"(timestamp '{RELEASE_LOAD}' as {LOADED_AT}) from {RAW}.{HELD_BACK}_{table}"
            )
            con.execute(f"drop table {RAW}.{HELD_BACK}_{table}")
        con.execute("checkpoint")
    finally:
        con.close()


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"select count(*) from {table}").fetchone()
    return int(row[0]) if row else 0


def timed(project: DbtProject, *flags: str) -> float:
    """Wall-clock seconds of one build, up to its last write to the database file. DuckDB
    keeps recent writes in its write-ahead log until the log reaches `checkpoint_threshold`, and
    dbt may leave the file open, so a build can end with writes still to do; the timing ends
    with an explicit checkpoint, so no run leaves part of its cost to the next."""
    started = time.perf_counter()
    project.invoke(["build", *MODELS_ONLY, *flags])
    if project.duckdb_path is not None:
        con = duckdb.connect(str(project.duckdb_path))
        try:
            con.execute("checkpoint")
        finally:
            con.close()
    return time.perf_counter() - started


Snapshot = dict[str, Counter[tuple[Any, ...]]]


def snapshot(path: Path, tables: list[str]) -> Snapshot:
    """The rows of each table, as a multiset. (dbt, in this process, may still hold the file
    open: each snapshot reads it through its own connection.)"""
    con = duckdb.connect(str(path))
    try:
        return {
            t: Counter(map(tuple, con.execute(f"select * from idstitch.{t}").fetchall()))
            for t in tables
        }
    finally:
        con.close()


def diff_snapshots(expected: Snapshot, actual: Snapshot) -> list[str]:
    """One line per table whose rows differ, with a few of the rows."""
    problems = []
    for table in expected:
        missing, extra = expected[table] - actual[table], actual[table] - expected[table]
        if missing or extra:
            problems.append(
                f"{table}: {sum(missing.values())} rows missing, e.g. {list(missing)[:3]}; "
                f"{sum(extra.values())} rows extra, e.g. {list(extra)[:3]}"
            )
    return problems


# the run id of the last finished run
LAST_RUN = "(select run_id from idstitch.idstitch_batches order by run_number desc limit 1)"


def last_run_row(path: Path, sql: str) -> tuple[Any, ...]:
    """The one row of an aggregate query over the database (its own connection)."""
    con = duckdb.connect(str(path))
    try:
        row = con.execute(sql).fetchone()
    finally:
        con.close()
    assert row is not None
    return tuple(row)


def resolved_events(path: Path) -> int:
    """How many events the last finished run resolved."""
    sql = "select coalesce(max(events_resolved), 0) from idstitch.idstitch_batches"
    return int(last_run_row(path, f"{sql} where run_id = {LAST_RUN}")[0])


def slowest_models(project: DbtProject, count: int = 6) -> list[tuple[str, float]]:
    """The models of the last dbt invocation that took longest (dbt's run_results.json)."""
    target = project.project_dir / os.environ.get("DBT_TARGET_PATH", "target")  # dbt's own rule
    with open(target / "run_results.json") as f:
        results = json.load(f)["results"]
    timed_models = [(r["unique_id"].split(".")[-1], float(r["execution_time"])) for r in results]
    return sorted(timed_models, key=lambda item: -item[1])[:count]


def resolution_rounds(path: Path) -> tuple[int, int, float]:
    """The last run's constrained resolution: rounds, events decided in them, seconds."""
    rounds, events, seconds = last_run_row(
        path,
        "select count(*), coalesce(sum(rows_changed), 0), coalesce(sum(seconds), 0)"
        " from idstitch.idstitch_run_log where step = 'constrained_resolution'"
        f" and run_id = {LAST_RUN}",
    )
    return int(rounds), int(events), float(seconds)


def rules_bound(path: Path) -> tuple[int, int, int, int]:
    """How often rules bind in a build: profiles, profiles that refused a union (limit or
    never-merge), events refused, and shared identifiers."""
    profiles, refusing, refusals = last_run_row(
        path,
        "select (select count(*) from idstitch.rudder_profiles),"
        " (select count(distinct rudder_id) from idstitch.idstitch_limit_violations),"
        " (select count(*) from idstitch.idstitch_limit_violations)",
    )
    (shared,) = last_run_row(path, "select count(*) from idstitch.idstitch_shared_identifiers")
    return int(profiles), int(refusing), int(refusals), int(shared)


def history_passes(path: Path) -> Table:
    """The incremental run again, on a copy (not timed: profiling costs time), counting the rows
    it reads of every table it keeps from run to run and of the raw tables (see
    idstitch.history_reads); one row per table read more than a tenth of, with the models that
    read it most."""
    project = DbtProject(duckdb_path=path, vars={"idstitch": bench_config()})
    with counting() as reads:
        project.invoke(["build", *MODELS_ONLY], callbacks=[reads.callback()])
    con = duckdb.connect(str(path))
    try:
        sizes = {
            f"{schema}.{name}": int(rows)
            for schema, name, rows in con.execute(
                "select schema_name, table_name, estimated_size from duckdb_tables()"
                " where not temporary"
            ).fetchall()
        }
    finally:
        con.close()
    table = Table(
        title=f"rows the incremental run read of the history ({reads.statements} statements "
        "profiled, each statement of a script on its own)"
    )
    for column in ("table", "rows", "rows read", "passes", "read most by"):
        table.add_column(column, justify="left" if column in ("table", "read most by") else "right")
    for name, scanned in reads.by_table().most_common():
        size = sizes.get(name)
        if not size or scanned < size / 10 or name.split(".")[-1] not in HISTORY:
            continue
        models = Counter({m: r for (m, t), r in reads.rows.items() if t == name})
        table.add_row(
            name,
            f"{size:,}",
            f"{scanned:,}",
            f"{scanned / size:.1f}",
            ", ".join(f"{m} ({r / size:.1f})" for m, r in models.most_common(3)),
        )
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=105_000, help="generated people")
    parser.add_argument("--new-share", type=float, default=0.01, help="share of rows held back")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--arrival",
        choices=["random", "newest"],
        default="random",
        help="which rows arrive last: a random share (mostly late) or the last hourly loads",
    )
    parser.add_argument(
        "--families",
        type=float,
        default=0.0,
        help="share of households that share a tablet and an email (rules bind there)",
    )
    parser.add_argument("--dir", type=Path, default=None, help="where to put the DuckDB files")
    args = parser.parse_args(argv)
    console = Console(width=max(Console().width, 150))
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="idstitch-incremental-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "incremental.duckdb"
    full_path = workdir / "full_refresh.duckdb"
    counted_path = workdir / "counted.duckdb"
    for stale in (path, full_path, counted_path):
        stale.unlink(missing_ok=True)

    rows, held = prepare(path, args.people, args.seed, args.new_share, args.arrival, args.families)
    project = DbtProject(duckdb_path=path, vars={"idstitch": bench_config()})
    first = timed(project)
    release(path)
    shutil.copy(path, full_path)
    shutil.copy(path, counted_path)
    incremental = timed(project)
    incremental_events = resolved_events(path)
    incremental_models = slowest_models(project)
    rounds = resolution_rounds(path)
    rerun = timed(project)
    full_project = DbtProject(duckdb_path=full_path, vars={"idstitch": bench_config()})
    full = timed(full_project, "--full-refresh")
    full_events = resolved_events(full_path)
    differing = diff_snapshots(snapshot(full_path, MARTS), snapshot(path, MARTS))
    profiles, refusing, refusals, shared = rules_bound(full_path)
    history = history_passes(counted_path)

    table = Table(title=f"idstitch incremental benchmark (one run, {rows:,} raw rows)")
    for column in ("run", "new raw rows", "events resolved", "seconds", "ratio to full refresh"):
        table.add_column(column, justify="left" if column == "run" else "right")
    table.add_row("first run (full)", f"{rows - held:,}", "", f"{first:.1f}", f"{first / full:.3f}")
    table.add_row(
        "incremental",
        f"{held:,}",
        f"{incremental_events:,}",
        f"{incremental:.1f}",
        f"{incremental / full:.3f}",
    )
    table.add_row("rerun, nothing new", "0", "0", f"{rerun:.1f}", f"{rerun / full:.3f}")
    table.add_row(
        "full refresh (reference)", f"{rows:,}", f"{full_events:,}", f"{full:.1f}", "1.000"
    )
    console.print(table)
    console.print(
        f"rules bound in the full refresh: {refusing:,} of {profiles:,} profiles "
        f"({refusing / max(profiles, 1):.1%}) refused {refusals:,} unions; "
        f"{shared:,} identifiers turned shared"
    )
    console.print(
        f"incremental / full refresh: {incremental / full:.3f} (target: at most 0.10); "
        f"marts equal to the full refresh: {'yes' if not differing else 'NO'}"
    )
    models = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in incremental_models)
    console.print(
        f"incremental run: constrained resolution {rounds[2]:.1f} s in {rounds[0]} rounds, for "
        f"{rounds[1]:,} of the {incremental_events:,} events (the others are in partitions where "
        f"no rule can bind: plain components); slowest models: {models}"
    )
    console.print(history)
    if differing:
        for line in differing:
            console.print(f"  {line}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
