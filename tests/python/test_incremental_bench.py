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
