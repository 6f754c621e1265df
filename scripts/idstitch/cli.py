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


def _duckdb_file(duckdb_path: Path | None) -> Path:
    import os

    if duckdb_path is not None:
        return duckdb_path
    env = os.environ.get("IDSTITCH_DUCKDB_PATH")
    return Path(env) if env else PROJECT_DIR / "idstitch.duckdb"


if __name__ == "__main__":
    main()
