"""dbt, driven in process through ``dbtRunner``, with one typed error for every failure."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
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

    def invoke(
        self,
        args: Sequence[str],
        extra_vars: Mapping[str, Any] | None = None,
        *,
        manifest: Any = None,
        callbacks: Sequence[Callable[[Any], None]] = (),
        quiet: bool = False,
    ) -> Any:
        """Run one dbt command (e.g. ``["build"]``); return its result or raise DbtError.

        ``manifest`` (from :meth:`parse`) skips parsing, which matters when one command runs
        dbt many times; ``callbacks`` receive every dbt event (progress displays use them);
        ``quiet`` keeps dbt's own console lines out of the way of such a display.
        """
        from dbt.cli.main import dbtRunner  # imported late: it costs a second of start-up

        if self.duckdb_path is not None:
            os.environ["IDSTITCH_DUCKDB_PATH"] = str(self.duckdb_path)
        cli_args = [
            *args,
            *(["--quiet", "--log-level", "none"] if quiet else []),
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
        outcome = dbtRunner(manifest=manifest, callbacks=list(callbacks)).invoke(cli_args)
        if not outcome.success:
            raise DbtError(_failure_message(args, outcome))
        return outcome.result

    def operation_lines(
        self, macro: str, args: Mapping[str, Any], *, manifest: Any = None
    ) -> list[str]:
        """Run a macro (`dbt run-operation`) that reports through `log()` lines starting with
        its own name and a space; return the rest of each such line, in order. This is how a
        command reads the warehouse through the dbt adapter of any target."""
        marker = macro + " "
        lines: list[str] = []

        def on_event(event: Any) -> None:
            if event.info.name == "JinjaLogInfo":
                msg = str(getattr(event.data, "msg", ""))
                if msg.startswith(marker):
                    lines.append(msg[len(marker) :])

        self.invoke(
            ["run-operation", macro, "--args", json.dumps(args, default=str)],
            manifest=manifest,
            callbacks=[on_event],
            quiet=True,
        )
        return lines

    def parse(self) -> Any:
        """Parse the project once; the manifest can be handed to later :meth:`invoke` calls."""
        return self.invoke(["parse"], quiet=True)

    def node_of(self, manifest: Any, source: str | None, ref: str | None) -> Any:
        """The parsed node of a configured raw relation: a dbt source or a model (or seed)."""
        if source is not None:
            source_name, table = source.split(".")
            for node in manifest.sources.values():
                if node.source_name == source_name and node.name == table:
                    return node
            raise DbtError(f"dbt source `{source}` is not declared in the project")
        for node in manifest.nodes.values():
            if node.resource_type in ("model", "seed") and node.name == ref:
                return node
        raise DbtError(f"model `{ref}` is not in the project")


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
