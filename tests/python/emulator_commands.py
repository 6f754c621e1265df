"""The commands the emulator harnesses run against an emulator target: dbt and `idstitch`, each
in a subprocess bounded in time (a warehouse connector may retry a failing request forever)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from idstitch.runner import PROJECT_DIR

from streams import LOADED_AT

DBT = Path(sys.executable).with_name("dbt")
COMMAND_TIMEOUT = 600  # seconds for one command; `timeout` ends it, and the process wait after
# the sources the emulators' incremental tests read by load time (rules.by_load_time), their raw
# tables, and the load time of each batch (streams.loaded_tables)
LOADED_SOURCES = {"web_tracks": "raw_web_tracks", "app_events": "raw_app_events"}
LOAD_TIMES = [datetime(2024, 3, 1) + timedelta(days=day) for day in range(4)]


def run_dbt(
    args: list[str], profiles_dir: Path, target: str, env: Mapping[str, str],
    vars: Mapping[str, Any] | None = None,
) -> str:  # fmt: skip
    """One dbt command on the emulator's target; fail with dbt's output."""
    cmd = [str(DBT), *args, "--project-dir", str(PROJECT_DIR)]
    cmd += ["--profiles-dir", str(profiles_dir), "--target", target]
    if vars:
        cmd += ["--vars", json.dumps(vars, default=str)]
    return _run(cmd, env, f"dbt {' '.join(args)}")


def run_idstitch(
    args: list[str], profiles_dir: Path, target: str, env: Mapping[str, str],
    project_dir: Path = PROJECT_DIR,
) -> str:  # fmt: skip
    """One `idstitch` command on the emulator's target, from this checkout's code, or from the
    copy of the project in `project_dir` (copy_project), which the command then takes as its
    dbt project, with a target folder of its own (a manifest dbt saved for this checkout names
    this checkout's files)."""
    cmd = [sys.executable, "-m", "idstitch.cli", *args]
    cmd += ["--target", target, "--profiles-dir", str(profiles_dir)]
    env = {**env, "PYTHONPATH": str(project_dir / "scripts")}
    if project_dir != PROJECT_DIR:
        env.update(
            DBT_TARGET_PATH=str(project_dir / "target"), DBT_LOG_PATH=str(project_dir / "logs")
        )
    return _run(cmd, env, f"idstitch {args[0]}")


def copy_project(dest: Path) -> Path:
    """A copy of the dbt project and its Python package in `dest`, for a command that writes to
    the project's files (`idstitch forget` appends to the erasures seed): the repository's own
    files stay as they are."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(PROJECT_DIR / name, dest / name)
    for name in ("macros", "models", "seeds", "analyses", "scripts", "tests/generic"):
        shutil.copytree(
            PROJECT_DIR / name, dest / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    return dest


def assert_forget_request(
    output: str, rows: list[tuple[Any, ...]], project: Path, erasure_id: str, value: str,
    scope: str,
) -> None:  # fmt: skip
    """What `idstitch forget TYPE:VALUE --id ERASURE_ID` (of `scope`) must leave: `rows`, the
    erasures table's (erasure_id, id_type, id_value, id_hash, scope), hold the request with the
    md5 of the normalized `type:value` and no value; the seed file of the project it ran from
    holds it too, and the repository's own seed stays empty; neither the output nor the table
    holds the value."""
    id_type, normalized = value.split(":", 1)
    expected = hashlib.md5(value.encode()).hexdigest()
    assert expected in output and normalized not in output.lower(), output
    assert [tuple(r) for r in rows if r[0] == erasure_id] == [
        (erasure_id, id_type, None, expected, scope)
    ], rows
    with (project / "seeds" / "idstitch_erasures.csv").open(newline="") as f:
        in_file = [r for r in csv.DictReader(f) if r["erasure_id"] == erasure_id]
    assert [(r["id_hash"], r["id_value"], r["scope"]) for r in in_file] == [(expected, "", scope)]
    own_seed = PROJECT_DIR / "seeds" / "idstitch_erasures.csv"
    assert own_seed.read_text().strip().count("\n") == 0, f"{own_seed} was written to"


def failing_idstitch(
    args: list[str], profiles_dir: Path, target: str, env: Mapping[str, str]
) -> str:
    """One `idstitch` command that must fail with exit code 1: what it printed to stderr,
    with rich's line wrapping undone."""
    cmd = [sys.executable, "-m", "idstitch.cli", *args]
    cmd += ["--target", target, "--profiles-dir", str(profiles_dir)]
    env = {**env, "PYTHONPATH": str(PROJECT_DIR / "scripts"), "COLUMNS": "10000"}
    done = _complete(cmd, env)
    assert done.returncode == 1, f"idstitch {args[0]} exited {done.returncode}:\n{done.stderr}"
    return done.stderr


def _run(cmd: list[str], env: Mapping[str, str], what: str) -> str:
    done = _complete(cmd, env)
    assert done.returncode == 0, (
        f"{what} on the emulator failed:\n{done.stdout}\n{done.stderr}".rstrip()
    )
    return done.stdout


def _complete(cmd: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["timeout", str(COMMAND_TIMEOUT), *cmd],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT + 30,
    )


def generate_and_run(idstitch: Callable[..., str], scratch: Path, people: int = 20) -> None:
    """`idstitch generate`, `run` and `summary` on an emulator target (`idstitch(*args)` runs
    one command there): the raw tables hold what the DuckDB generator writes for the same
    people and seed, and the build stitches every one of those rows."""
    from idstitch.generate import write_duckdb

    expected = write_duckdb(scratch / "generated.duckdb", people, seed=3).rows
    printed = idstitch("generate", "--people", str(people), "--seed", "3")
    for table, rows in expected.items():
        assert re.search(rf"{table}\W+{rows}\b", printed), printed
    idstitch("run")
    summary = json.loads(idstitch("summary", "--json"))
    assert summary["raw_rows"] == sum(expected.values()), summary
    assert summary["identified_events"] > 0 and summary["profiles"] > 0, summary
    assert summary["full_refresh"] and summary["new_copies"] > 0, summary


def statements_sent(log_dir: Path) -> list[tuple[str, str]]:
    """What dbt sent to the warehouse, as (node id or "", SQL) per request: the `SQLQuery`
    events of the JSON log file dbt writes in `log_dir` (`DBT_LOG_FORMAT_FILE=json`). dbt fires
    one for every statement it sends (on Snowflake, every statement of a split script; on
    BigQuery, every job)."""
    return dbt_log(log_dir)[1]


def dbt_log(log_dir: Path) -> tuple[str, list[tuple[str, str]]]:
    """The invocation id of the last dbt command logged in `log_dir`, and what it sent
    (statements_sent)."""
    invocation = ""
    sent: list[tuple[str, str]] = []
    for line in (log_dir / "dbt.log").read_text().splitlines():
        event = json.loads(line)
        if event["info"].get("invocation_id") != invocation:
            invocation = event["info"].get("invocation_id", "")
            sent = []
        if event["info"]["name"] == "SQLQuery":
            node = (event["data"].get("node_info") or {}).get("unique_id", "")
            sent.append((node, event["data"]["sql"]))
    return invocation, sent


def assert_raw_row_counts(
    query: Callable[[str], list[tuple[Any, ...]]],
    tables: Mapping[str, tuple[list[str], list[dict[str, Any]]]],
    sources: Mapping[str, str],
) -> None:
    """int_idstitch__raw_row_counts after a run (docs/incremental.md, "Rows deleted upstream"):
    one row per source read by load time (`sources`: name -> raw table in `tables`, as written),
    whose watermark is the latest load time of its rows and whose count is the true number of
    its raw rows loaded before it."""
    found = {s: (w, n) for s, w, n in query(
        "select source, watermark, rows_below from int_idstitch__raw_row_counts"
    )}  # fmt: skip
    assert set(found) == set(sources), found
    for source, table in sources.items():
        times = [row[LOADED_AT] for row in tables[table][1]]
        watermark, rows_below = found[source]
        assert watermark.replace(tzinfo=None) == max(times), (source, watermark)
        assert rows_below == sum(t < max(times) for t in times), (source, rows_below)
