"""The incremental benchmark's data: what it holds back, and that release loses no row."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from idstitch.incremental_bench import (
    HELD_BACK,
    LAST_HOURLY_LOAD,
    LOADED_AT,
    RAW,
    RAW_TABLES,
    prepare,
    release,
)

PEOPLE = 2_000
SHARE = 0.05
# enough identifiers for several of DuckDB's row groups (122,880 rows), so that a read of the
# newest batch alone shows as less than a pass
COUNTED_PEOPLE = 20_000


def _loads(path: Path, prefix: str = "") -> list[object]:
    con = duckdb.connect(str(path))
    try:
        return [
            row[0]
            for table in RAW_TABLES
            for row in con.execute(f"select {LOADED_AT} from {RAW}.{prefix}{table}").fetchall()
        ]
    finally:
        con.close()


@pytest.mark.parametrize("arrival", ["random", "newest"])
def test_prepare_holds_back_a_share_and_release_restores_every_row(
    tmp_path: Path, arrival: str
) -> None:
    path = tmp_path / f"{arrival}.duckdb"
    total, held = prepare(path, PEOPLE, seed=5, new_share=SHARE, arrival=arrival)
    kept = _loads(path)
    held_loads = _loads(path, f"{HELD_BACK}_")
    assert len(kept) + len(held_loads) == total and len(held_loads) == held
    assert 0.5 * SHARE * total < held <= 1.5 * SHARE * total
    if arrival == "newest":
        # the last hourly loads, before the rows without a usable time (loaded last)
        last = datetime.fromisoformat(LAST_HOURLY_LOAD)
        hourly = [t for t in kept if t != last]
        assert max(hourly) < min(held_loads) and max(held_loads) < last
    release(path)
    assert len(_loads(path)) == total


def test_history_reads_are_counted_per_table_and_model(tmp_path: Path) -> None:
    """The counter of rows read (idstitch.history_reads) during a build of the bench's data: it
    sees every raw table read by the model that reads them, never more rows than a table holds
    in one statement, and attributes the index's reads to models of the project; the models
    after the one that finds the partitions to re-resolve read the old events' rows it kept,
    not the index, and so do the statistics of shared values; the checked copies' identifiers
    are read by batch, not over the whole staging table."""
    from idstitch.history_reads import counting
    from idstitch.incremental_bench import MODELS_ONLY, bench_config
    from idstitch.runner import DbtProject

    path = tmp_path / "counted.duckdb"
    prepare(path, COUNTED_PEOPLE, seed=5, new_share=SHARE)
    project = DbtProject(duckdb_path=path, vars={"idstitch": bench_config()})
    project.invoke(["build", *MODELS_ONLY])
    release(path)
    with counting() as reads:
        project.invoke(["build", *MODELS_ONLY], callbacks=[reads.callback()])
    index = "idstitch.int_idstitch__observation_index"
    identifiers = "idstitch.stg_idstitch__identifiers"
    con = duckdb.connect(str(path))
    try:
        sizes = {
            t: con.execute(f"select count(*) from {RAW}.{t}").fetchone()[0] for t in RAW_TABLES
        }
        index_rows = con.execute(f"select count(*) from {index}").fetchone()[0]
        identifier_rows = con.execute(f"select count(*) from {identifiers}").fetchone()[0]
    finally:
        con.close()
    assert reads.statements > 0
    # the old events' index rows are read once, where the partitions to re-resolve are found (at
    # most one pass per join there: the events carrying a checked value, their rows, the
    # partitions' rows; the checked events' own rows are looked up only for the few re-sent
    # events, which reads a row group or two, not a fourth pass); the models after it read
    # those rows, not the index
    assert 0 < reads.rows[("int_idstitch__working_observations", index)] <= 3.5 * index_rows
    after_partitions = [
        "int_idstitch__events",
        "int_idstitch__observations",
        "int_idstitch__touched_nodes",
        "int_idstitch__shared_identifiers",
        "int_idstitch__nodes",
    ]
    for model in after_partitions:
        assert reads.rows[(model, index)] == 0, model
        assert reads.rows[(model, "idstitch.int_idstitch__working_observations")] > 0, model
    # besides that model, only the publish reads the index (its delete of the re-resolved
    # events' rows, one pass): the statistics of shared values are not counted over it again
    index_readers = {m for (m, t), r in reads.rows.items() if t == index and r}
    assert index_readers == {"int_idstitch__working_observations", "idstitch_batches"}
    assert reads.rows[("idstitch_batches", index)] <= index_rows
    # the models that join the staged identifiers to the checked copies read the newest batch's
    # rows (the last row group or two), not the whole table
    assert identifier_rows > 2 * 122_880
    for model in (
        "int_idstitch__checked_events",
        "int_idstitch__checked_observations",
        "int_idstitch__next_idstitch_rejected_identifiers",
    ):
        assert 0 < reads.rows[(model, identifiers)] <= 0.5 * identifier_rows, model
    for table, size in sizes.items():
        read = reads.rows[("int_idstitch__event_copies", f"{RAW}.{table}")]
        # one pass at most (the load-time filter may skip row groups), and never nothing
        assert 0 < read <= size, table
    # every read of the project's tables happens in a model (none before or between models)
    readers = {m for (m, t), r in reads.rows.items() if t.startswith("idstitch.") and r}
    assert readers and all(
        m.startswith(("int_idstitch__", "idstitch_", "stg_", "rudder_")) for m in readers
    )
    # each statement of a script is counted, not only its last: the publishing script of
    # idstitch_batches reads the marts (its deletes) before it appends its own rows
    assert reads.rows[("idstitch_batches", "idstitch.rudder_identified_events")] > 0
    # counting is off again outside the block
    with counting() as during:
        pass
    project.invoke(["build", *MODELS_ONLY])
    assert during.statements == 0
