"""`idstitch bench --quick` as a smoke test: it runs end to end and the round bound holds.

No timing is asserted here: times depend on the machine. The bound is on rounds, which depend
only on the graph and the seeded hashes.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from idstitch import bench
from idstitch.cli import main
from idstitch.config import parse_config
from idstitch.runner import DbtProject


def test_quick_bench_keeps_rounds_within_log2_n_plus_5(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["bench", "--quick", "--label-cap", "3", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output

    rows = list(bench.read_csv(tmp_path / "bench.csv"))
    graphs = {row.graph for row in rows}
    assert {"path-2k", "star-2k", "random-2k", "identity-1k", "identity-5k"} <= graphs
    for row in rows:
        if row.method in (bench.METHOD_BUILD, bench.METHOD_COMPONENTS):
            assert row.rounds is not None
            assert row.rounds <= math.log2(row.nodes) + 5, row
    # scipy and idstitch agreed on every partition, and the floor's mapping and identified
    # events equal the build's marts (the bench fails otherwise); the plot and the Markdown
    # table are written beside the CSV
    assert (tmp_path / "bench.png").stat().st_size > 0
    assert "| path-2k |" in (tmp_path / "bench.md").read_text()

    # every graph has a floor row, and every row its ratio to the floor (no timing is asserted)
    for graph in graphs:
        by_method = {row.method: row for row in rows if row.graph == graph}
        floor, build = by_method[bench.METHOD_FLOOR], by_method[bench.METHOD_BUILD]
        assert floor.ratio_to_floor == 1.0
        assert build.ratio_to_floor is not None and build.ratio_to_floor > 0
        assert build.ratio_to_scipy is not None
    assert "vs floor" in (tmp_path / "bench.md").read_text()
    assert "build / floor: path-2k " in result.output


def test_floor_equals_the_build_and_the_check_catches_a_difference(tmp_path: Path) -> None:
    """The floor's tables are the build's marts row for row on a bench graph, and one wrong
    rudder_id in them fails the check the bench runs."""
    con = duckdb.connect(str(tmp_path / "floor.duckdb"))
    try:
        bench.write_graph(con, bench.GraphSpec("identity", 1_000))
        variables = bench.bench_vars()
        con.execute(f"create schema {bench.SCHEMA}")
        bench.floor_stitch(con, parse_config(variables["idstitch"]))
    finally:
        con.close()
    DbtProject(duckdb_path=tmp_path / "floor.duckdb", vars=variables).invoke(bench.BUILD_ARGS)

    con = duckdb.connect(str(tmp_path / "floor.duckdb"))
    try:
        bench._check_floor(con)
        mappings = f"{bench.SCHEMA}.{bench.FLOOR_MAPPINGS}"
        events = f"{bench.SCHEMA}.{bench.FLOOR_EVENTS}"
        assert con.execute(f"select count(*) from {mappings}").fetchall()[0][0] > 1_000
        assert con.execute(f"select count(*) from {events}").fetchall()[0][0] > 500
        con.execute(f"""
            update {mappings} set rudder_id = md5('elsewhere')
            where id_value = (select min(id_value) from {mappings})
        """)
        with pytest.raises(AssertionError, match="rudder_identity_mappings: 1 of idstitch"):
            bench._check_floor(con)
    finally:
        con.close()
