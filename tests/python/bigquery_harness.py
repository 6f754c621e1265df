"""The BigQuery side of the warehouse tests: the emulator process, its profile, dbt and data.

The emulator (crucible-emulator, tests/bigquery_emulator/) lives in its own virtualenv, whose
interpreter `make test` names in IDSTITCH_BIGQUERY_EMULATOR_PYTHON. Every call is bounded in
time: the emulator runs in its own process (killed at the end), dbt in a subprocess under
`timeout`, the Python client with short deadlines and no retries.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from idstitch.runner import PROJECT_DIR

from emulator_commands import failing_idstitch, run_dbt, run_idstitch
from streams import TABLES, TIME_COLUMNS, RawTables, Stream

SERVE = PROJECT_DIR / "tests" / "bigquery_emulator" / "serve.py"
PYTHON_ENV = "IDSTITCH_BIGQUERY_EMULATOR_PYTHON"
TARGET = "bigquery_emulator"
DATASET = "idstitch"
RAW_DATASET = "idstitch_raw"  # `{{ target.schema }}_raw`
CLIENT_TIMEOUT = 120

PROFILE = """\
idstitch:
  target: {target}
  outputs:
    {target}:
      type: bigquery
      method: oauth-secrets
      token: emulator
      project: "{{{{ env_var('IDSTITCH_BIGQUERY_PROJECT') }}}}"
      dataset: {dataset}
      location: US
      threads: 1
      api_endpoint: http://127.0.0.1:{port}
      job_retries: 0
      job_execution_timeout_seconds: 300
"""


def emulator_python() -> Path | None:
    """The emulator's interpreter, if installed (`make test` installs it)."""
    default = PROJECT_DIR / ".venv-bq" / "bin" / "python"
    path = Path(os.environ.get(PYTHON_ENV, default))
    return path if path.exists() else None


class Cursor:
    """`execute(sql).fetchall()` over the BigQuery client, as warehouse.read_result wants."""

    def __init__(self, client: Any, project: str) -> None:
        self.client, self.project, self.rows = client, project, []

    def execute(self, sql: str) -> Cursor:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(default_dataset=f"{self.project}.{DATASET}")
        job = self.client.query(sql, job_config=config, timeout=CLIENT_TIMEOUT, job_retry=None)
        self.rows = [
            tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row.values())
            for row in job.result(timeout=CLIENT_TIMEOUT)
        ]
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


@dataclass
class Emulator:
    port: int
    profiles_dir: Path

    def client(self, project: str) -> Any:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=f"http://127.0.0.1:{self.port}"),
        )

    def cursor(self, project: str) -> Cursor:
        return Cursor(self.client(project), project)

    def dbt(self, project: str, args: list[str], vars: Mapping[str, Any] | None = None) -> str:
        """Run one dbt command on the emulator, in `project`; fail with dbt's output."""
        return run_dbt(args, self.profiles_dir, TARGET, self.env(project), vars)

    def idstitch(self, project: str, *args: str, project_dir: Path = PROJECT_DIR) -> str:
        """An `idstitch` command on the emulator, in `project`: what it prints. `project_dir`:
        a copy of the project to run it from (emulator_commands.copy_project)."""
        return run_idstitch(list(args), self.profiles_dir, TARGET, self.env(project), project_dir)

    def failing_idstitch(self, project: str, *args: str, profiles_dir: Path | None = None) -> str:
        """An `idstitch` command that must fail (exit code 1) in `project`: its stderr.
        `profiles_dir`: another profiles.yml for the target, e.g. with a wrong password."""
        profiles = profiles_dir or self.profiles_dir
        return failing_idstitch(list(args), profiles, TARGET, self.env(project))

    def env(self, project: str) -> dict[str, str]:
        env = {**os.environ, "IDSTITCH_BIGQUERY_PROJECT": project}
        env["DBT_TARGET_PATH"] = str(self.profiles_dir / f"target_{project}")
        env["DBT_LOG_PATH"] = str(self.profiles_dir / f"logs_{project}")
        return env


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_emulator(python: Path, workdir: Path) -> Iterator[Emulator]:
    """crucible-emulator on a free port, with the test shim; killed on exit."""
    port = _free_port()
    log = open(workdir / "emulator.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(python), str(SERVE), str(port)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.closing(socket.socket()) as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, (workdir / "emulator.log").read_text()
            assert time.monotonic() < deadline, "the BigQuery emulator did not start in 60 s"
            time.sleep(0.2)
        profiles = workdir / "profiles"
        profiles.mkdir()
        (profiles / "profiles.yml").write_text(
            PROFILE.format(target=TARGET, port=port, dataset=DATASET)
        )
        yield Emulator(port, profiles)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def write_raw(emulator: Emulator, project: str, stream: Stream) -> None:
    """The demo raw tables (and the rule seeds) in `project`, filled with the stream's rows."""
    write_tables(
        emulator,
        project,
        {
            table: (columns, stream.rows.get(source, []))
            for source, (table, columns) in TABLES.items()
        },
    )


def write_tables(emulator: Emulator, project: str, tables: RawTables) -> None:
    """Raw tables (name -> columns and rows) in `project`'s raw dataset, replaced if they exist.

    Each table is one CSV load job (WRITE_TRUNCATE, explicit schema), not INSERT statements: the
    emulator parses and translates every literal of an INSERT, which takes it about 50 s per
    thousand rows of a raw table (and longer per row the larger the statement), where a load job
    takes about 2 s. Strings are quoted, so an empty string stays one; NULL is an empty field."""
    from google.cloud import bigquery

    client = emulator.client(project)
    emulator.cursor(project).execute(f"create schema if not exists `{project}`.{RAW_DATASET}")
    for table, (columns, rows) in tables.items():
        schema = [
            bigquery.SchemaField(c, "TIMESTAMP" if c in TIME_COLUMNS else "STRING") for c in columns
        ]
        config = bigquery.LoadJobConfig(
            schema=schema, source_format="CSV", write_disposition="WRITE_TRUNCATE"
        )
        job = client.load_table_from_file(
            io.BytesIO(_csv(rows, columns).encode()),
            f"{project}.{RAW_DATASET}.{table}",
            job_config=config,
            timeout=CLIENT_TIMEOUT,
        )
        job.result(timeout=CLIENT_TIMEOUT, retry=None)
        assert job.output_rows == len(rows), f"{table}: loaded {job.output_rows} of {len(rows)}"


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """The rows as a CSV file for a BigQuery load job: no header, every string quoted."""
    return "".join(",".join(_field(row[c]) for c in columns) + "\n" for row in rows)


def _field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    text = str(value)
    if "\n" in text or "\r" in text:
        # a line break in a field is not something the emulator's CSV reader takes
        raise ValueError(f"a CSV load cannot carry a line break: {text!r}")
    return '"' + text.replace('"', '""') + '"'


def backquote(name: str) -> str:
    return f"`{name}`"
