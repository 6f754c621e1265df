"""dbt, driven in process through ``dbtRunner``, with one typed error for every failure."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]


class DbtError(RuntimeError):
    """A dbt command failed; the message says which nodes failed and why."""


@dataclass
class DbtProject:
    """Where the dbt project is and how to reach the warehouse."""

    project_dir: Path = PROJECT_DIR
    profiles_dir: Path | None = None
    target: str | None = None
    duckdb_path: Path | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)

    def invoke(self, args: Sequence[str], extra_vars: Mapping[str, Any] | None = None) -> Any:
        """Run one dbt command (e.g. ``["build"]``); return its result or raise DbtError."""
        from dbt.cli.main import dbtRunner  # imported late: it costs a second of start-up

        if self.duckdb_path is not None:
            os.environ["IDSTITCH_DUCKDB_PATH"] = str(self.duckdb_path)
        cli_args = [
            *args,
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.profiles_dir or self.project_dir),
        ]
        if self.target:
            cli_args += ["--target", self.target]
        all_vars = {**self.vars, **(extra_vars or {})}
        if all_vars:
            cli_args += ["--vars", json.dumps(all_vars, default=str)]
        outcome = dbtRunner().invoke(cli_args)
        if not outcome.success:
            raise DbtError(_failure_message(args, outcome))
        return outcome.result


def _failure_message(args: Sequence[str], outcome: Any) -> str:
    head = f"dbt {' '.join(args)} failed"
    if outcome.exception is not None:
        return f"{head}: {outcome.exception}"
    lines = []
    for r in getattr(outcome.result, "results", None) or []:
        status = str(getattr(r, "status", ""))
        if status in ("error", "fail", "runtime error"):
            lines.append(f"- {r.node.unique_id} ({status}): {(r.message or '').strip()}")
    return head + (":\n" + "\n".join(lines) if lines else " (see logs/dbt.log)")
