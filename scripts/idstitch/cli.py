"""The ``idstitch`` command line: a thin layer over the modules that do the work.

Exit codes: 0 success; 1 the work ran and found a problem (a dbt node failed, an audit
invariant failed, a metric under its threshold); 2 bad usage (click's own code, and missing
inputs such as an unknown identifier for `explain`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import yaml
from rich.console import Console
from rich.table import Table

from idstitch.runner import PROJECT_DIR, DbtError, DbtProject
from idstitch.summary import print_summary, read_summary, read_summary_through

console = Console()
errors = Console(stderr=True)

# the dbt option of every command that reaches a warehouse through the dbt adapter
profiles_dir_option = click.option(
    "--profiles-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Directory of profiles.yml, as for dbt (default: the project directory).",
)
_Command = TypeVar("_Command", bound=Callable[..., Any])


def target_option(what: str) -> Callable[[_Command], _Command]:
    """The --target option of a command that reads a build (`what`: what it does with it)."""
    return click.option(
        "--target",
        "-t",
        default=None,
        help=f"dbt target of profiles.yml whose tables to {what} through the dbt adapter "
        "(Snowflake, BigQuery, DuckDB). Without it (and --profiles-dir), the DuckDB file is "
        "read directly.",
    )


DUCKDB_HELP = (
    "DuckDB file of the build (default: $IDSTITCH_DUCKDB_PATH, else idstitch.duckdb in the "
    "project)."
)


def _fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/bold red] {message}", highlight=False)
    if hint:
        errors.print(f"[yellow]next:[/yellow] {hint}", highlight=False)
    sys.exit(code)


def _parse_vars(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise click.BadParameter(f"not valid YAML: {e}") from e
    if not isinstance(value, dict):
        raise click.BadParameter("expected a YAML mapping, e.g. '{idstitch: {...}}'")
    return value


def _project(
    target: str | None, profiles_dir: Path | None, duckdb_path: Path | None, vars_text: str | None
) -> DbtProject:
    """The dbt project as a command's --target, --profiles-dir, --duckdb and --vars name it."""
    return DbtProject(
        target=target,
        profiles_dir=profiles_dir,
        duckdb_path=duckdb_path,
        vars=_parse_vars(vars_text),
    )


def _duckdb_file(duckdb_path: Path | None) -> Path:
    if duckdb_path is not None:
        return duckdb_path
    env = os.environ.get("IDSTITCH_DUCKDB_PATH")
    return Path(env) if env else PROJECT_DIR / "idstitch.duckdb"


def _typed(duckdb_path: Path | None) -> str | None:
    """The --duckdb path as the user typed it, for reports to name the file by (None: the
    default or the environment variable chose it, and the audit names it relative to the
    project)."""
    return None if duckdb_path is None else str(duckdb_path)


def _build_to_read(
    duckdb_path: Path | None, target: str | None, profiles_dir: Path | None, vars_text: str | None
) -> tuple[Path | None, DbtProject]:
    """The build a reading command (audit, explain) reads: a DuckDB file that must exist (the
    path), or, with --target or --profiles-dir, a dbt target (no path)."""
    through = target is not None or profiles_dir is not None
    path: Path | None = None
    if not through:
        path = _duckdb_file(duckdb_path)
        if not path.exists():
            _fail(f"{path} does not exist", "Build first: `idstitch run --duckdb PATH`.", code=2)
    project = DbtProject(
        target=target,
        profiles_dir=profiles_dir,
        duckdb_path=duckdb_path if through else path,
        vars=_parse_vars(vars_text),
    )
    return path, project


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def main() -> None:
    """idstitch: identity stitching inside your warehouse, as a dbt project.

    \b
    Typical session:
      idstitch generate --people 1000 --seed 7 --duckdb synth.duckdb
      idstitch run --duckdb synth.duckdb
      idstitch audit --duckdb synth.duckdb --truth true_person_id --html report.html
      idstitch explain email:someone@example.com device_id:ios-1a2b --duckdb synth.duckdb
    """


@main.command()
@click.option("--duckdb", "duckdb_path", type=click.Path(path_type=Path), help=DUCKDB_HELP)
@target_option("load, build, summarize and audit")
@profiles_dir_option
def demo(duckdb_path: Path | None, target: str | None, profiles_dir: Path | None) -> None:
    """Load the demo raw events, build every table, then print the summary and the audit.

    With --target (or --profiles-dir) the demo runs on that dbt target, Snowflake or BigQuery
    for example: the raw events are loaded as seeds there, and the summary and the audit read
    the tables through the dbt adapter."""
    from idstitch import audit

    through_adapter = target is not None or profiles_dir is not None
    project = DbtProject(target=target, profiles_dir=profiles_dir, duckdb_path=duckdb_path)
    started = time.perf_counter()
    try:
        project.invoke(["seed"])
        project.invoke(["build", "--exclude", "resource_type:seed"])
    except DbtError as e:
        _fail(str(e), "See logs/dbt.log for the full dbt output.")
    seconds = time.perf_counter() - started
    try:
        if through_adapter:
            print_summary(console, read_summary_through(project), seconds)
            result = audit.run_audit(None, project=project)
        else:
            path = _duckdb_file(duckdb_path)
            print_summary(console, read_summary(path), seconds)
            result = audit.run_audit(path, project=project, database=_typed(duckdb_path))
    except (DbtError, ValueError) as e:
        _fail(str(e), "Check the target with `dbt debug`.", code=2)
    audit.print_audit(console, result)
    if not result.ok:
        sys.exit(1)


@main.command()
@click.option(
    "--duckdb",
    "duckdb_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help=DUCKDB_HELP,
)
@click.option(
    "--target",
    "-t",
    default=None,
    help="dbt target of profiles.yml whose tables to read through the dbt adapter (Snowflake, "
    "BigQuery, DuckDB). Without it, the DuckDB file is read directly.",
)
@profiles_dir_option
@click.option(
    "--vars",
    "vars_text",
    metavar="YAML",
    help="dbt vars to parse the project with, as for `idstitch run` (used with --target).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON instead.")
def summary(
    duckdb_path: Path | None,
    target: str | None,
    profiles_dir: Path | None,
    vars_text: str | None,
    as_json: bool,
) -> None:
    """Print the summary of the last build: events, identifiers, rejects, edges, profiles.

    With --target or --profiles-dir the numbers are read through the dbt adapter of that
    target, in one dbt call, so the same command works on every warehouse."""
    if target is None and profiles_dir is None:
        result = read_summary(_duckdb_file(duckdb_path))
    else:
        project = _project(target, profiles_dir, duckdb_path, vars_text)
        try:
            result = read_summary_through(project)
        except DbtError as e:
            _fail(str(e), "Check the target with `dbt debug`, and that a build has run on it.")
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(result), indent=2, sort_keys=True))
    else:
        print_summary(console, result, None)


@main.command()
@click.option(
    "--target",
    "-t",
    default=None,
    help="dbt target of profiles.yml to build (default: the profile's default, DuckDB).",
)
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Rebuild incremental models (the run log) from scratch, as `dbt build --full-refresh`.",
)
@click.option(
    "--vars",
    "vars_text",
    default=None,
    metavar="YAML",
    help="dbt vars as a YAML mapping, as for `dbt --vars`; e.g. "
    "'{idstitch: {max_iterations: 32, ...}}' replaces the project's idstitch var.",
)
@click.option(
    "--seed/--no-seed",
    default=False,
    help="Also load the project's seeds first (the demo's raw tables are seeds). Off by "
    "default so that raw tables already in the warehouse, e.g. generated ones, are kept.",
)
@click.option("--duckdb", "duckdb_path", type=click.Path(path_type=Path), help=DUCKDB_HELP)
@profiles_dir_option
def run(
    target: str | None,
    full_refresh: bool,
    vars_text: str | None,
    seed: bool,
    duckdb_path: Path | None,
    profiles_dir: Path | None,
) -> None:
    """Build every table step by step with live progress, then run the data tests.

    The steps are staging, graph, components (the convergence loop, shown round by round),
    resolution, marts and tests. The tables are the ones `dbt build` makes; each round of the
    loop is also logged in `idstitch_run_log`. Exits 1 with the failing node's message when a
    model or a test fails.
    """
    from idstitch import orchestrate

    project = _project(target, profiles_dir, duckdb_path, vars_text)
    report = orchestrate.run(project, full_refresh=full_refresh, seed=seed, console=errors)
    orchestrate.print_report(console, report)
    if report.error is not None:
        failure = orchestrate.explain_failure(report.error, target)
        _fail(failure.message, failure.hint)


@main.command()
@click.option(
    "--duckdb",
    "duckdb_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help=DUCKDB_HELP,
)
@click.option(
    "--truth",
    metavar="COLUMN_OR_TABLE",
    help="Ground truth to score against: a column of every configured raw table (e.g. "
    "true_person_id, as `idstitch generate` writes), or a table schema.table with columns "
    "source, event_id and a person column. Adds pairwise precision, recall and F1.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write a self-contained HTML report (charts inline, no network needed) to this file.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write every check and number as JSON to this file, for CI.",
)
@click.option(
    "--replay",
    default=25,
    show_default=True,
    type=click.IntRange(min=0),
    help="Profiles to rebuild from their own raw events with the reference (0 to skip); "
    "the largest profile is always one of them.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seed of the replay sample (the same seed samples the same profiles).",
)
@click.option(
    "--top", default=10, show_default=True, type=click.IntRange(min=1),
    help="Rows in the lists of largest profiles, super-nodes and placeholder-like values.",
)  # fmt: skip
@click.option(
    "--min-precision",
    type=click.FloatRange(0, 1),
    help="With --truth: fail (exit 1) when pairwise precision is below this.",
)
@click.option(
    "--min-recall",
    type=click.FloatRange(0, 1),
    help="With --truth: fail (exit 1) when pairwise recall is below this.",
)
@click.option(
    "--vars",
    "vars_text",
    metavar="YAML",
    help="dbt vars the build was made with, if not the project's (as for `idstitch run`).",
)
@target_option("audit")
@profiles_dir_option
def audit(
    duckdb_path: Path | None,
    truth: str | None,
    html_path: Path | None,
    json_path: Path | None,
    replay: int,
    seed: int,
    top: int,
    min_precision: float | None,
    min_recall: float | None,
    vars_text: str | None,
    target: str | None,
    profiles_dir: Path | None,
) -> None:
    """Check a build against docs/semantics.md and look for over-merging.

    The build is a DuckDB file (--duckdb), or the tables of a dbt target (--target, with
    --profiles-dir and --vars as dbt takes them), read through its adapter: the checks and
    aggregates run in the warehouse, which sends back only their answers.

    Invariants: one rudder_id per node; both ends of an applied merge rule in one profile;
    every input event identified or rejected, never both; no profile over a type `limit`;
    each rudder_id the md5 of its profile's earliest node. Replay: sampled profiles rebuilt
    from their own raw events by the reference must equal the warehouse's. Signals: profile
    sizes, largest profiles, super-nodes, unblocked placeholder-like values, rejects.

    Exit codes: 0 all checks pass; 1 a check failed (or a --min-* threshold); 2 the build
    cannot be audited (missing tables, unknown truth column).
    """
    import json

    from idstitch import audit as auditing
    from idstitch.report import render_html

    if (min_precision is not None or min_recall is not None) and not truth:
        raise click.UsageError("--min-precision and --min-recall need --truth")
    path, project = _build_to_read(duckdb_path, target, profiles_dir, vars_text)
    try:
        result = auditing.run_audit(
            path,
            project=project,
            truth=truth,
            replay=replay,
            seed=seed,
            top=top,
            min_precision=min_precision,
            min_recall=min_recall,
            database=None if path is None else _typed(duckdb_path),
        )
    except DbtError as e:
        _fail(str(e), "Check the target with `dbt debug`, and that a build has run on it.", 2)
    except ValueError as e:
        _fail(str(e), code=2)
    auditing.print_audit(console, result)
    if html_path is not None:
        html_path.write_text(render_html(result), encoding="utf-8")
        console.print(f"HTML report: {html_path}")
    if json_path is not None:
        json_path.write_text(json.dumps(result.as_dict(), indent=2, default=str) + "\n")
        console.print(f"JSON: {json_path}")
    if not result.ok:
        sys.exit(1)


@main.command()
@click.argument("first", metavar="TYPE:VALUE")
@click.argument("second", metavar="TYPE:VALUE")
@click.option(
    "--duckdb",
    "duckdb_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help=DUCKDB_HELP,
)
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON instead.")
@click.option(
    "--vars",
    "vars_text",
    metavar="YAML",
    help="dbt vars the build was made with, if not the project's (as for `idstitch run`).",
)
@target_option("read")
@profiles_dir_option
def explain(
    first: str,
    second: str,
    duckdb_path: Path | None,
    as_json: bool,
    vars_text: str | None,
    target: str | None,
    profiles_dir: Path | None,
) -> None:
    """Why two identifiers share a profile (the shortest chain of evidence), or why not.

    Values are normalized as the pipeline does (e.g. ` Jane@X.COM ` is jane@x.com). Each hop
    of the chain names the two identifiers and the first event (source, event id, time) that
    carried them together. For identifiers in different profiles it lists what kept them apart:
    rules not applied and their skip reason, skipped identifiers, shared identifiers and rejected
    values both sides carried.

    Exit codes: 0 same profile; 1 not in one profile (or not found); 2 bad input.
    """
    import json

    from idstitch import explain as explaining
    from idstitch.audit import project_config

    path, project = _build_to_read(duckdb_path, target, profiles_dir, vars_text)
    try:
        config = project_config(project)
        e = explaining.explain(path, first, second, config, project=project)
    except explaining.ExplainError as err:
        _fail(str(err), code=2)
    except DbtError as err:
        _fail(str(err), "Check the target with `dbt debug`, and that a build has run on it.", 2)
    if as_json:
        click.echo(json.dumps(e.as_dict(), indent=2, default=str))
    else:
        explaining.print_explanation(console, e)
    if not e.same_profile:
        sys.exit(1)


@main.command()
@click.argument("identifier", metavar="TYPE:VALUE")
@click.option(
    "--profile",
    "whole_profile",
    is_flag=True,
    help="Forget the whole person: every identifier of the profile the value belongs to, and "
    "every event that carries one of them (scope profile). Default: only this value.",
)
@click.option(
    "--id",
    "erasure_id",
    metavar="ERASURE_ID",
    help="The request's id, e.g. your ticket number (default: a random uuid).",
)
@click.option("--duckdb", "duckdb_path", type=click.Path(path_type=Path), help=DUCKDB_HELP)
@click.option(
    "--vars",
    "vars_text",
    metavar="YAML",
    help="dbt vars to parse the project with, as for `idstitch run` (they say where the "
    "`erasures` relation is).",
)
@target_option("write the request to")
@profiles_dir_option
def forget(
    identifier: str,
    whole_profile: bool,
    erasure_id: str | None,
    duckdb_path: Path | None,
    vars_text: str | None,
    target: str | None,
    profiles_dir: Path | None,
) -> None:
    """Ask the next run to forget an identifier, or a whole person (docs/semantics.md §3c).

    Appends one row to the `erasures` relation of the idstitch var (default: the seed
    idstitch_erasures) through the dbt adapter: the type, the md5 of `type:normalized value`
    (never the value itself) and the scope. When the relation is the project's seed, the row is
    also appended to its CSV file so that the next `dbt seed` or `dbt build` keeps it. The data
    is removed by the next run, which is a full run.

    Exit codes: 0 written; 1 the warehouse write failed; 2 bad input (unknown type, no value,
    the relation does not exist).
    """
    from idstitch import forget as forgetting

    project = _project(target, profiles_dir, duckdb_path, vars_text)
    try:
        written = forgetting.forget(
            project, identifier, profile=whole_profile, erasure_id=erasure_id
        )
    except forgetting.ForgetError as e:
        _fail(str(e), code=2)
    except DbtError as e:
        _fail(str(e), "Check the target with `dbt debug`.")
    what = "the whole profile of" if written.scope == "profile" else "the identifier"
    console.print(
        f"erasure request {written.erasure_id}: forget {what} {written.id_type} with hash "
        f"{written.id_hash} (scope {written.scope}, requested at {written.requested_at} UTC)",
        highlight=False,
    )
    if written.table_written:
        console.print(f"written to {written.relation}", highlight=False)
    else:
        console.print(
            f"{written.relation} does not exist yet: the next `dbt seed` (or `dbt build`) "
            "loads the request from the seed file",
            highlight=False,
        )
    if written.seed_file is not None:
        console.print(
            f"appended to the seed file {written.seed_file.name} (commit it: the next "
            "`dbt seed` or `dbt build` reloads the table from that file and keeps the request)",
            highlight=False,
        )
    console.print(
        "The next run removes the data: it is a full run, every table rebuilt from the raw rows "
        "without it. The raw rows themselves are yours to delete.",
        highlight=False,
    )


@main.command()
@click.option(
    "--target",
    "-t",
    default=None,
    help="dbt target of profiles.yml whose warehouse to read (default: the profile's default, "
    "DuckDB).",
)
@profiles_dir_option
@click.option(
    "--vars",
    "vars_text",
    metavar="YAML",
    help="dbt vars to parse the project with, as for `idstitch run` (init only reads the "
    "warehouse, but dbt parses the project's idstitch var first and stops if it is invalid).",
)
@click.option(
    "--duckdb",
    "duckdb_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="DuckDB file to read (shortcut for the DuckDB target; default: $IDSTITCH_DUCKDB_PATH, "
    "else idstitch.duckdb in the project).",
)
@click.option(
    "--schema",
    "schemas",
    multiple=True,
    metavar="NAME",
    help="A schema (BigQuery: dataset) to read; repeat for several. Default: every schema of "
    "the target's database; idstitch's own tables (rudder_*, idstitch_*, int_idstitch__*, "
    "stg_idstitch__*) are never read.",
)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the YAML to this file (default: standard output).",
)
def init(
    target: str | None,
    profiles_dir: Path | None,
    vars_text: str | None,
    duckdb_path: Path | None,
    schemas: tuple[str, ...],
    output: Path | None,
) -> None:
    """Guess a first idstitch configuration from the columns of your raw tables.

    Reads the target's tables and columns through the dbt adapter (DuckDB, Snowflake and
    BigQuery alike) and the project's dbt sources, then writes a commented `idstitch` var
    for you to review: identifier columns guessed from their names (user ids, emails,
    phones, anonymous ids, device ids; a second column of one type becomes an alias), each
    table's event id, event time and load time, merge-event pairs, profile traits, the
    strategy (`strict` for CRM contact tables) and the recommended id type rules. Tables
    shaped like manual merges or never-merge pairs become `manual_merges` / `never_merge`.
    Every guess is explained in a `# guessed:` comment; skipped tables are listed with why.

    \b
    Output: one YAML mapping with the single key `idstitch:` -- paste it under `vars:` in
    dbt_project.yml, or pass the file as it is: idstitch run --vars "$(cat FILE)".
    Tables not declared as dbt sources are read as sources named after their schema; a
    `sources:` block to declare them follows at the end, commented out (remove the
    leading "# " and put it in a YAML file under models/).

    Exit codes: 0 written; 1 dbt failed or no table looks like a source of identifiers.
    """
    from idstitch import scaffold

    project = _project(target, profiles_dir, duckdb_path, vars_text)
    try:
        result, text = scaffold.init(project, schemas)
    except DbtError as e:
        _fail(str(e), "Check the target with `dbt debug`; see logs/dbt.log for dbt's output.")
    except scaffold.ScaffoldError as e:
        _fail(str(e), "Name the schemas of your raw tables with --schema.")
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
    w = result.warehouse
    errors.print(
        f"read {len(w.tables)} tables in {len(w.schemas)} schemas: {len(result.sources)} "
        f"sources, {len(result.rules)} rule tables, {len(result.skipped)} skipped"
        + (f"; wrote {output}" if output is not None else ""),
        highlight=False,
    )
    undeclared = sum(len(b.tables) for b in result.to_declare)
    if undeclared:
        errors.print(
            f"{undeclared} tables are not declared as dbt sources yet: see the commented "
            "`sources:` block at the end of the output",
            highlight=False,
        )


@main.command()
@click.option("--people", required=True, type=click.IntRange(min=1),
              help="Number of people to simulate (about 9 raw rows each).")  # fmt: skip
@click.option("--seed", default=1, show_default=True, type=int,
              help="The same seed gives the same rows, row for row.")  # fmt: skip
@click.option(
    "--noise",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Scale of the mess: shared family computers, kiosks, placeholders, retried events, "
    "missing ids and times, email and phone spellings. 0 = clean data, 2 = twice as messy.",
)
@click.option(
    "--families",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0, max=1),
    help="Share of households (three people each) whose members use one family tablet in the "
    "app and often give the family's email: shared devices and limits bind there.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write one CSV per raw table into this directory.",
)
@click.option(
    "--duckdb",
    "duckdb_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the raw tables into schema idstitch_raw of this DuckDB file (replacing them), "
    "where the demo's dbt sources read them; then `idstitch run --duckdb` the same file.",
)
@click.option(
    "--target",
    "-t",
    default=None,
    help="Write the raw tables where the demo's dbt sources read them on this dbt target "
    "(Snowflake, BigQuery, DuckDB), through the dbt adapter, replacing them; then "
    "`idstitch run --target` the same target.",
)
@profiles_dir_option
def generate(
    people: int,
    seed: int,
    noise: float,
    families: float,
    out_dir: Path | None,
    duckdb_path: Path | None,
    target: str | None,
    profiles_dir: Path | None,
) -> None:
    """Synthetic raw events for the demo's four sources, with a hidden true_person_id.

    Each person browses on a few browsers and cookies, uses the app on a phone or two, signs
    in, is tied across devices by merge events and appears on lead lists with only an email or
    a phone. The truth column is not configured, so the stitcher ignores it; score a build
    with `idstitch audit --truth true_person_id`.
    """
    from idstitch import generate as generating

    through_adapter = target is not None or profiles_dir is not None
    if [out_dir is not None, duckdb_path is not None, through_adapter].count(True) != 1:
        raise click.UsageError("give exactly one of --out DIR, --duckdb PATH or --target NAME")
    with console.status(f"generating {people:,} people…"):
        if through_adapter:
            project = DbtProject(target=target, profiles_dir=profiles_dir)
            try:
                made = generating.write_through(project, people, seed, noise, families)
            except DbtError as e:
                _fail(str(e), "Check the target with `dbt debug`.", code=2)
            where = f"dbt target {target or '(the profile default)'}"
        elif duckdb_path is not None:
            made = generating.write_duckdb(duckdb_path, people, seed, noise, families=families)
            where = f"{duckdb_path} (schema {generating.RAW_SCHEMA})"
        else:
            assert out_dir is not None
            made = generating.write_csv(out_dir, people, seed, noise, families)
            where = str(out_dir)
    table = Table(title=f"generated into {where}", title_justify="left")
    table.add_column("raw table")
    table.add_column("rows", justify="right")
    for name, n in made.rows.items():
        table.add_row(name, f"{n:,}")
    table.add_row("total", f"{made.total_rows:,}", style="bold")
    console.print(table)
    console.print(
        f"{people:,} people, seed {seed}, noise {noise}: {made.seconds:.1f} s "
        f"({made.total_rows / max(made.seconds, 1e-9):,.0f} rows/s)"
    )


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
    """Measure idstitch against the floor, scipy (the physical limit) and SQL label propagation.

    Each graph is written as raw events into a scratch DuckDB file; then the dbt pipeline
    (staging to marts), the floor (the same job done lean: DuckDB for unpivot and distinct
    nodes, scipy for the components, checked equal to the build's marts), the
    connected-components model alone, scipy's connected_components (with loading edges from and
    writing labels to DuckDB) and min-label propagation in SQL run on it, one after the other
    in this process.
    Ratios are to scipy and to the floor in the same run. Exits 1 if idstitch takes more than
    log2(nodes) + 5 rounds on any graph.
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


if __name__ == "__main__":
    main()
