"""`idstitch run`: the models of one `dbt build`, driven step by step with a progress display.

The steps follow the flow of the project (staging, the graph, the convergence loop, the
resolution, the marts, then every data and unit test). Each step is one in-process dbt
invocation with a `--select` group, all sharing one parsed manifest, so the tables built are the
ones a plain `dbt build` builds. The groups are chosen from the DAG (folders and the loop's
materialization), not from model names, so that new or renamed models still land in a step.
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from idstitch.runner import DbtError, DbtProject

LOOP = "config.materialized:idstitch_components"
STAGING = "+path:models/staging"
INTERMEDIATE = "path:models/intermediate"


@dataclass(frozen=True)
class Step:
    name: str
    what: str
    command: str  # dbt command: seed | run | test
    selection: tuple[str, ...]


def steps(seed: bool) -> list[Step]:
    """The steps of a run, in order; every model lands in exactly one of them."""
    out = [Step("seeds", "load seed files", "seed", ())] if seed else []
    return out + [
        Step("staging", "read sources, normalize, validate", "run", ("--select", STAGING)),
        Step(
            "graph",
            "events, observations, nodes, edges",
            "run",
            ("--select", f"+{LOOP}", "--exclude", LOOP, STAGING),
        ),
        Step("components", "connected-components loop", "run", ("--select", LOOP)),
        Step(
            "resolution",
            "profiles of nodes and events",
            "run",
            ("--select", INTERMEDIATE, "--exclude", f"+{LOOP}"),
        ),
        Step(
            "marts",
            "the tables users query",
            "run",
            ("--exclude", f"+{LOOP}", STAGING, INTERMEDIATE),
        ),
        # tests of seeds are left to `dbt build`/`dbt test`: raw data need not match the demo's
        Step(
            "tests",
            "data and unit tests",
            "test",
            ("--select", "resource_type:model", "resource_type:source"),
        ),
    ]


@dataclass
class StepResult:
    step: Step
    nodes: int = 0
    seconds: float = 0.0
    status: str = "pending"  # pending | ok | failed | skipped
    run_id: str | None = None
    requests: int = 0  # statements (or BigQuery jobs) dbt sent to the warehouse


@dataclass
class Iteration:
    iteration: int
    rows_changed: int
    edges_remaining: int
    nodes_active: int
    seconds: float


@dataclass
class RunReport:
    steps: list[StepResult] = field(default_factory=list)
    iterations: list[Iteration] = field(default_factory=list)
    loop_run_id: str | None = None
    parse_seconds: float = 0.0
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def requests(self) -> int:
        """What the steps sent to the warehouse (reading the run log back is not counted)."""
        return sum(r.requests for r in self.steps)


# the loop creates one `<model>__hooks_<n>` work table per round: its SQL marks the round's start
_ROUND = re.compile(r"__hooks_(\d+)\b")


class _LoopWatcher:
    """A dbt event callback that sees the loop's rounds start and the invocation's id, and
    counts the requests dbt sends (one `SQLQuery` event each: a statement, a Snowflake Scripting
    block, or a BigQuery job)."""

    def __init__(self, on_round: Callable[[int], None]) -> None:
        self.on_round = on_round
        self.invocation_id: str | None = None
        self.nodes_finished = 0
        self.requests = 0
        self._last = 0

    def __call__(self, event: Any) -> None:
        info = event.info
        self.invocation_id = self.invocation_id or getattr(info, "invocation_id", None)
        if info.name == "NodeFinished":
            self.nodes_finished += 1
        elif info.name == "SQLQuery":
            self.requests += 1
            match = _ROUND.search(getattr(event.data, "sql", "")[:2000])
            if match and "create" in event.data.sql.lower() and int(match.group(1)) > self._last:
                self._last = int(match.group(1))
                self.on_round(self._last)


def read_iterations(project: DbtProject, manifest: Any, run_id: str) -> list[Iteration]:
    """The loop's rounds of one run, read back from `idstitch_run_log` (any warehouse)."""
    sql = (
        "select iteration, rows_changed, edges_remaining, nodes_active, seconds "
        "from {{ ref('idstitch_run_log') }} "
        f"where run_id = '{run_id}' and step = 'connected_components' order by iteration"
    )
    result = project.invoke(
        ["show", "--inline", sql, "--limit", "-1"],
        manifest=manifest,
        quiet=True,
    )
    table = result.results[0].agate_table
    return [
        Iteration(int(r[0]), int(r[1]), int(r[2]), int(r[3]), float(r[4] or 0)) for r in table.rows
    ]


def run(
    project: DbtProject,
    *,
    full_refresh: bool = False,
    seed: bool = False,
    console: Console | None = None,
) -> RunReport:
    """Build every model step by step, then run the tests; never raises for dbt failures."""
    console = console or Console(stderr=True)
    report = RunReport()
    started = time.perf_counter()
    # every step logs under one run id, as one `dbt build` would (the loops read this var)
    run_id = str(uuid.uuid4())
    project = dataclasses.replace(project, vars={**project.vars, "idstitch_run_id": run_id})
    plan = steps(seed)
    report.steps = [StepResult(s) for s in plan]
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[step]:<11}[/bold]"),
        TextColumn("{task.description}"),
        BarColumn(bar_width=None),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    with progress:
        try:
            manifest = project.parse()
            report.parse_seconds = time.perf_counter() - started
        except DbtError as e:
            report.error = str(e)
            report.seconds = time.perf_counter() - started
            return report
        tasks = [progress.add_task(s.what, step=s.name, total=1, start=False) for s in plan]
        for result, task in zip(report.steps, tasks, strict=True):
            step = result.step
            progress.start_task(task)

            def on_round(n: int, task: Any = task, step: Step = step) -> None:
                progress.update(task, description=f"{step.what}: round {n}")

            watcher = _LoopWatcher(on_round)
            args = [step.command, *step.selection]
            if full_refresh and step.command in ("run", "seed"):
                args.append("--full-refresh")
            t0 = time.perf_counter()
            try:
                outcome = project.invoke(args, manifest=manifest, callbacks=[watcher], quiet=True)
            except DbtError as e:
                result.status = "failed"
                result.requests = watcher.requests
                result.seconds = time.perf_counter() - t0
                progress.update(task, description=f"[red]{step.what}: failed[/red]")
                report.error = str(e)
                break
            result.seconds = time.perf_counter() - t0
            result.requests = watcher.requests
            result.nodes = len(getattr(outcome, "results", []) or [])
            result.status = "ok"
            result.run_id = run_id
            if step.name == "components":
                report.loop_run_id = run_id
            done = f"{step.what} ({result.nodes} nodes)"
            progress.update(task, completed=1, description=done)
    for result in report.steps:
        if result.status == "pending":
            result.status = "skipped"
    if report.ok and report.loop_run_id:
        try:
            report.iterations = read_iterations(project, manifest, report.loop_run_id)
        except DbtError as e:
            report.error = f"the run log could not be read back: {e}"
    report.seconds = time.perf_counter() - started
    return report


def print_report(console: Console, report: RunReport) -> None:
    """The closing summary: one row per step, then one row per round of the loop."""
    table = Table(title="idstitch run", title_justify="left")
    table.add_column("step")
    table.add_column("status")
    table.add_column("nodes", justify="right")
    table.add_column("requests", justify="right")
    table.add_column("seconds", justify="right")
    colours = {"ok": "green", "failed": "red", "skipped": "yellow"}
    parsed = "[green]ok[/green]" if report.parse_seconds else "[red]failed[/red]"
    table.add_row("parse", parsed, "", "", f"{report.parse_seconds:.1f}")
    for r in report.steps:
        colour = colours.get(r.status, "white")
        table.add_row(
            r.step.name,
            f"[{colour}]{r.status}[/{colour}]",
            str(r.nodes),
            str(r.requests),
            f"{r.seconds:.1f}",
        )
    table.add_row("total", "", "", str(report.requests), f"{report.seconds:.1f}", style="bold")
    console.print(table)
    if report.iterations:
        loop = Table(title=f"connected components, run {report.loop_run_id}", title_justify="left")
        for name in ("round", "nodes re-pointed", "edges left", "active nodes", "seconds"):
            loop.add_column(name, justify="right")
        for it in report.iterations:
            loop.add_row(
                str(it.iteration),
                f"{it.rows_changed:,}",
                f"{it.edges_remaining:,}",
                f"{it.nodes_active:,}",
                f"{it.seconds:.2f}",
            )
        console.print(loop)


def short_message(message: str, keep: int = 1) -> str:
    """A dbt failure cut to its first `keep` failing nodes: one error often fails many."""
    head, _, rest = message.partition("\n")
    nodes: list[list[str]] = []
    for line in rest.splitlines():
        if line.startswith("- ") or not nodes:
            nodes.append([line])
        else:
            nodes[-1].append(line)
    shown = ["\n".join(n) for n in nodes[:keep]]
    more = len(nodes) - keep
    tail = [f"... and {more} more failing node(s), see logs/dbt.log"] if more > 0 else []
    return "\n".join([head, *shown, *tail]) if rest else head


def failure_hint(message: str) -> str:
    """What to do next, for the failures users meet most."""
    if "configuration error" in message:
        return "Fix the `idstitch` var in dbt_project.yml (or --vars) at the key named above."
    if "did not converge" in message:
        return "Raise `max_iterations` in the idstitch var and run again."
    if "--full-refresh" in message:
        return "Nothing was written to the marts; the rebuild above restores every table."
    if "idstitch: the raw table" in message:
        return (
            "Nothing was written to the marts. For the demo, `idstitch run --seed` loads its "
            "raw tables."
        )
    if "does not exist" in message or "Catalog Error" in message:
        return (
            "A raw table is missing: load your data first (for the demo: `idstitch run --seed`; "
            "for synthetic data: `idstitch generate --duckdb PATH`)."
        )
    return "See logs/dbt.log for the full dbt output; fix the failing node and run again."


# idstitch's own errors (raised by its macros): one line that already says what is wrong
_OWN_ERROR = re.compile(r"^\s*(idstitch(?::| configuration error) .*?)\s*$", re.MULTILINE)

# what the warehouse drivers say when the target cannot be reached or refuses the login
_CONNECTION_ERRORS = re.compile(
    r"Incorrect username or password"  # Snowflake 390100
    r"|Failed to connect to DB"  # Snowflake connector, any login failure
    r"|Could not connect to Snowflake backend"
    r"|JWT token is invalid"  # Snowflake key-pair
    r"|Failed to establish a new connection"  # HTTP: BigQuery's API, Snowflake
    r"|Connection refused|Name or service not known|nodename nor servname"
    r"|DefaultCredentialsError|RefreshError|invalid_grant|Reauthentication is needed",
)


@dataclass(frozen=True)
class Failure:
    """A failed run as the user should read it: what went wrong, and what to do next."""

    message: str
    hint: str


def explain_failure(error: str, target: str | None = None) -> Failure:
    """The one message a failed run ends with. idstitch's own errors (a missing raw table, a
    dropped kept table, a loop over its cap, a bad var) are shown alone, without dbt's
    wrapping; a target that cannot be reached or refuses the login is said so, with the driver's
    own line; anything else is cut to its first failing node."""
    own = _OWN_ERROR.search(error)
    if own:
        return Failure(own.group(1), failure_hint(error))
    match = _CONNECTION_ERRORS.search(error)
    if match:
        line = next(ln for ln in error.splitlines() if match.group(0) in ln).strip()
        line = line.split("Failed to establish a new connection: ")[-1].rstrip("\"')")
        name = f"`{target}`" if target else "of the profile"
        return Failure(
            f"cannot connect to the warehouse of target {name}: {line}",
            "Check that target in profiles.yml: account or host and port, user, password or "
            "key (BigQuery: project, and the key file or `gcloud auth application-default "
            f"login`). `dbt debug{' --target ' + target if target else ''}` tests the "
            "connection.",
        )
    return Failure(short_message(error), failure_hint(error))


def step_names(seed: bool) -> Sequence[str]:
    return [s.name for s in steps(seed)]
