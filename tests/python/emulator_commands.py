"""The commands the emulator harnesses run against an emulator target: dbt and `idstitch`, each
in a subprocess bounded in time (a warehouse connector may retry a failing request forever)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from idstitch.runner import PROJECT_DIR

DBT = Path(sys.executable).with_name("dbt")
COMMAND_TIMEOUT = 600  # seconds for one command; `timeout` ends it, and the process wait after


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


def run_idstitch(args: list[str], profiles_dir: Path, target: str, env: Mapping[str, str]) -> str:
    """One `idstitch` command on the emulator's target, from this checkout's code."""
    cmd = [sys.executable, "-m", "idstitch.cli", *args]
    cmd += ["--target", target, "--profiles-dir", str(profiles_dir)]
    return _run(cmd, {**env, "PYTHONPATH": str(PROJECT_DIR / "scripts")}, f"idstitch {args[0]}")


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
