"""The ``idstitch`` command line: a thin layer over runner.py and summary.py."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console

from idstitch.runner import PROJECT_DIR, DbtError, DbtProject
from idstitch.summary import print_summary, read_summary

console = Console()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """idstitch: identity stitching inside your warehouse, as a dbt project."""


@main.command()
@click.option(
    "--duckdb",
    "duckdb_path",
    type=click.Path(path_type=Path),
    default=None,
    help="DuckDB file to build into (default: idstitch.duckdb in the project, "
    "or $IDSTITCH_DUCKDB_PATH).",
)
def demo(duckdb_path: Path | None) -> None:
    """Load the demo raw events, run `dbt build` on DuckDB and print a summary."""
    project = DbtProject(duckdb_path=duckdb_path)
    started = time.perf_counter()
    try:
        project.invoke(["seed"])
        project.invoke(["build", "--exclude", "resource_type:seed"])
    except DbtError as e:
        console.print(f"[red]{e}[/red]")
        sys.exit(1)
    seconds = time.perf_counter() - started
    print_summary(console, read_summary(_duckdb_file(duckdb_path)), seconds)


@main.command()
@click.option(
    "--duckdb",
    "duckdb_path",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="DuckDB file to read (default: the project's).",
)
def summary(duckdb_path: Path | None) -> None:
    """Print the summary of the last build: events, identifiers, rejects, edges, profiles."""
    print_summary(console, read_summary(_duckdb_file(duckdb_path)), None)


@main.command()
@click.option(
    "--sizes",
    default=None,
    metavar="N,N,...",
    help="Node counts of the identity-like graphs, comma-separated; k and M suffixes allowed "
    "(default: 100k,1M,10M; with --quick: 1000,5000). The path (100k and 1M nodes), star (1M) "
    "and random (1M) graphs are always run.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("bench-results"),
    show_default=True,
    help="Directory for bench.csv, bench.md (the table in Markdown), bench.png (the plot), "
    "bench_models.csv (seconds per dbt model of each build) and the scratch DuckDB file "
    "(deleted at the end).",
)
@click.option(
    "--quick",
    is_flag=True,
    help="Small graphs (2,000-node path, star and random; identity-like at 1,000 and 5,000 "
    "nodes): a smoke test in well under a minute.",
)
@click.option(
    "--label-cap",
    "label_cap",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds after which min-label propagation is stopped and reported as '> cap' "
    "(default: 120; with --quick: 5).",
)
def bench(sizes: str | None, out_dir: Path, quick: bool, label_cap: float | None) -> None:
    """Measure idstitch against scipy (the physical limit) and SQL label propagation.

    Each graph is written as raw events into a scratch DuckDB file; then the dbt pipeline
    (staging to marts), the connected-components model alone, scipy's connected_components
    (with loading edges from and writing labels to DuckDB) and min-label propagation in SQL
    run on it, one after the other in this process. Ratios are to scipy in the same run.
    Exits 1 if idstitch takes more than log2(nodes) + 5 rounds on any graph.
    """
    from idstitch import bench as b

    try:
        parsed = [b.parse_size(s) for s in sizes.split(",")] if sizes else None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--sizes") from e
    specs = b.default_specs(parsed or (b.QUICK_SIZES if quick else b.FULL_SIZES), quick)
    cap = label_cap if label_cap is not None else (5.0 if quick else 120.0)
    try:
        with console.status("starting") as status:
            run = b.run_bench(specs, out_dir, cap, lambda text: status.update(text))
    except DbtError as e:  # e.g. the loop reached max_iterations: the message names the cap
        console.print(f"[red]{e}[/red]")
        sys.exit(1)
    for path in b.print_and_save(run, out_dir, console):
        console.print(f"wrote {path}")
    violations = b.round_violations(run)
    for line in violations:
        console.print(f"[red]{line}[/red]")
    if violations:
        sys.exit(1)


def _duckdb_file(duckdb_path: Path | None) -> Path:
    import os

    if duckdb_path is not None:
        return duckdb_path
    env = os.environ.get("IDSTITCH_DUCKDB_PATH")
    return Path(env) if env else PROJECT_DIR / "idstitch.duckdb"


if __name__ == "__main__":
    main()
