"""`idstitch bench --quick` as a smoke test: it runs end to end and the round bound holds.

No timing is asserted here: times depend on the machine. The bound is on rounds, which depend
only on the graph and the seeded hashes.
"""

from __future__ import annotations

import math
from pathlib import Path

from click.testing import CliRunner

from idstitch import bench
from idstitch.cli import main


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
    # scipy and idstitch agreed on every partition (the bench fails otherwise), and the
    # plot and the Markdown table are written beside the CSV
    assert (tmp_path / "bench.png").stat().st_size > 0
    assert "| path-2k |" in (tmp_path / "bench.md").read_text()
