"""The Snowflake side of the warehouse tests: the emulator process, its profile, dbt and data.

Everything that talks to the emulator is bounded in time: a Snowflake client retries an HTTP
500 forever, so the emulator runs in its own process (killed at the end of the session), dbt
runs in a subprocess under `timeout`, and the Python client has login and network timeouts.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from idstitch.runner import PROJECT_DIR

from emulator_commands import failing_idstitch, run_dbt, run_idstitch
from streams import TABLES, TIME_COLUMNS, RawTables, Stream, values_batches

EMULATOR = Path(__file__).with_name("snowflake_emulator.py")
TARGET = "snowflake_emulator"
SCHEMA = "IDSTITCH"
RAW_SCHEMA = "IDSTITCH_RAW"  # `{{ target.schema }}_raw`, as Snowflake spells it unquoted
CLIENT_TIMEOUT = 60

PROFILE = """\
idstitch:
  target: {target}
  outputs:
    {target}:
      type: snowflake
      account: emulator
      user: idstitch
      password: emulator
      host: 127.0.0.1
      port: {port}
      protocol: http
      database: "{{{{ env_var('IDSTITCH_SNOWFLAKE_DATABASE') }}}}"
      warehouse: emulator
      schema: idstitch
      threads: 1
      connect_retries: 0
      connect_timeout: 20
"""


@dataclass
class Emulator:
    port: int
    profiles_dir: Path

    def connect(self, database: str) -> Any:
        import snowflake.connector

        return snowflake.connector.connect(
            account="emulator",
            user="idstitch",
            password="emulator",
            host="127.0.0.1",
            port=self.port,
            protocol="http",
            database=database,
            schema=SCHEMA,
            login_timeout=CLIENT_TIMEOUT,
            network_timeout=CLIENT_TIMEOUT,
            socket_timeout=CLIENT_TIMEOUT,
        )

    def dbt(self, database: str, args: list[str], vars: Mapping[str, Any] | None = None) -> str:
        """Run one dbt command on the emulator, in `database`; fail with dbt's output."""
        return run_dbt(args, self.profiles_dir, TARGET, self.env(database), vars)

    def idstitch(self, database: str, *args: str, project_dir: Path = PROJECT_DIR) -> str:
        """An `idstitch` command on the emulator, in `database`: what it prints. `project_dir`:
        a copy of the project to run it from (emulator_commands.copy_project)."""
        return run_idstitch(list(args), self.profiles_dir, TARGET, self.env(database), project_dir)

    def failing_idstitch(self, database: str, *args: str, profiles_dir: Path | None = None) -> str:
        """An `idstitch` command that must fail (exit code 1) in `database`: its stderr.
        `profiles_dir`: another profiles.yml for the target, e.g. with a wrong password."""
        profiles = profiles_dir or self.profiles_dir
        return failing_idstitch(list(args), profiles, TARGET, self.env(database))

    def env(self, database: str) -> dict[str, str]:
        env = {**os.environ, "IDSTITCH_SNOWFLAKE_DATABASE": database}
        # each build its own target and log folders, so that builds cannot disturb each other
        env["DBT_TARGET_PATH"] = str(self.profiles_dir / f"target_{database}")
        env["DBT_LOG_PATH"] = str(self.profiles_dir / f"logs_{database}")
        return env


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_emulator(workdir: Path) -> Iterator[Emulator]:
    """fakesnow in server mode on a free port, with the test shim; killed on exit."""
    port = _free_port()
    log = open(workdir / "emulator.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, str(EMULATOR), str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.closing(socket.socket()) as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, (workdir / "emulator.log").read_text()
            assert time.monotonic() < deadline, "the Snowflake emulator did not start in 60 s"
            time.sleep(0.2)
        profiles = workdir / "profiles"
        profiles.mkdir()
        (profiles / "profiles.yml").write_text(PROFILE.format(target=TARGET, port=port))
        yield Emulator(port, profiles)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def write_raw(emulator: Emulator, database: str, stream: Stream) -> None:
    """The demo raw tables (and the rule seeds) in `database`, filled with the stream's rows."""
    write_tables(
        emulator,
        database,
        {
            table: (columns, stream.rows.get(source, []))
            for source, (table, columns) in TABLES.items()
        },
    )


def write_tables(emulator: Emulator, database: str, tables: RawTables) -> None:
    """Raw tables (name -> columns and rows) in `database`'s raw schema, replaced if they exist.

    Columns are created unquoted-style (upper case), as `dbt seed` creates them on Snowflake.
    """
    con = emulator.connect(database)
    try:
        cur = con.cursor()
        cur.execute(f"create schema if not exists {database}.{RAW_SCHEMA}")
        for table, (columns, rows) in tables.items():
            types = ", ".join(
                f'"{c.upper()}" {"timestamp_ntz" if c in TIME_COLUMNS else "varchar"}'
                for c in columns
            )
            name = f"{database}.{RAW_SCHEMA}.{table}"
            cur.execute(f"create or replace table {name} ({types})")
            for values in values_batches(rows, columns, _literal, 500):
                cur.execute(f"insert into {name} values {values}")
    finally:
        con.close()


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return f"'{value.isoformat(sep=' ')}'::timestamp_ntz"
    # Snowflake reads backslash escapes in string literals
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def upper_quote(name: str) -> str:
    """A column the project created unquoted, as Snowflake stores it."""
    return f'"{name.upper()}"'
