"""Count the requests (statements, Snowflake Scripting blocks, BigQuery jobs) that `dbt run`
sends for the demo, on DuckDB or on one of the test emulators: a full run, then an incremental
run of one new event; with `--more`, also
a 5,000-hop chain and a rules stream. Each build is printed with its bound (one request per
model plus two per loop round) and its heaviest nodes (`--every-node`: every node).

    PYTHONPATH=scripts DBT_PROFILES_DIR=. python tests/python/measure_round_trips.py snowflake

The project measured is the one `idstitch.runner.PROJECT_DIR` names, that is, the checkout whose
`scripts` folder is on PYTHONPATH; so the same command measures an older checkout too (the
emulators and this script come from this one).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from idstitch.runner import PROJECT_DIR  # noqa: E402
from round_trips import NEW_EVENT_COLUMNS, NEW_EVENT_VALUES, count_run  # noqa: E402
from rules import config, rule_stream  # noqa: E402

from conftest import merge_only_var  # noqa: E402
from emulator_commands import run_dbt  # noqa: E402
from streams import Stream, long_chain  # noqa: E402
from warehouse import query as cursor_query  # noqa: E402

Query = Callable[[str], list[tuple[Any, ...]]]


@contextlib.contextmanager
def warehouse(which: str, work: Path) -> Iterator[Any]:
    """(run dbt, write raw rows, query, insert the new event, target dir) for one database."""
    if which == "duckdb":
        import duckdb

        from warehouse import write_raw

        class DuckDB:
            def __init__(self, name: str) -> None:
                self.path = work / f"{name}.duckdb"
                self.env = {**os.environ, "IDSTITCH_DUCKDB_PATH": str(self.path)}
                self.env["DBT_TARGET_PATH"] = str(work / f"target_{name}")

            def dbt(self, args: list[str], log: Path | None, vars: Any = None) -> None:
                env = {**self.env, **_json_log(log)}
                run_dbt(args, PROJECT_DIR, "duckdb", env, vars)

            def write(self, stream: Stream) -> None:
                write_raw(self.path, stream)

            def query(self, sql: str, schema: str = "idstitch") -> list[tuple[Any, ...]]:
                con = duckdb.connect(str(self.path))
                try:
                    con.execute(f"set schema = '{schema}'")
                    return con.execute(sql).fetchall()
                finally:
                    con.close()

            def new_event(self) -> None:
                values = NEW_EVENT_VALUES.format(sent_at="timestamp '2024-04-01 10:00:00'")
                self.query(f"insert into raw_app_events {NEW_EVENT_COLUMNS} values {values}",
                           schema="idstitch_raw")  # fmt: skip

        yield DuckDB
    elif which == "snowflake":
        from snowflake_harness import TARGET, running_emulator
        from snowflake_harness import write_raw as sf_write

        with running_emulator(work) as em:

            class Snowflake:
                def __init__(self, name: str) -> None:
                    self.db = name.upper()
                    self.env = em.env(self.db)

                def dbt(self, args: list[str], log: Path | None, vars: Any = None) -> None:
                    run_dbt(args, em.profiles_dir, TARGET, {**self.env, **_json_log(log)}, vars)

                def write(self, stream: Stream) -> None:
                    sf_write(em, self.db, stream)

                def query(self, sql: str) -> list[tuple[Any, ...]]:
                    con = em.connect(self.db)
                    try:
                        return cursor_query(con.cursor(), sql)
                    finally:
                        con.close()

                def new_event(self) -> None:
                    values = NEW_EVENT_VALUES.format(sent_at="'2024-04-01 10:00:00'::timestamp_ntz")
                    table = f"{self.db}.IDSTITCH_RAW.RAW_APP_EVENTS"
                    self.query(f"insert into {table} {NEW_EVENT_COLUMNS} values {values}")

            yield Snowflake
    else:
        from bigquery_harness import RAW_DATASET, TARGET, emulator_python, running_emulator
        from bigquery_harness import write_raw as bq_write

        python = emulator_python()
        assert python is not None, "the BigQuery emulator is not installed"
        with running_emulator(python, work) as em:

            class BigQuery:
                def __init__(self, name: str) -> None:
                    self.project = f"trips-{name}"
                    self.env = em.env(self.project)

                def dbt(self, args: list[str], log: Path | None, vars: Any = None) -> None:
                    run_dbt(args, em.profiles_dir, TARGET, {**self.env, **_json_log(log)}, vars)

                def write(self, stream: Stream) -> None:
                    bq_write(em, self.project, stream)

                def query(self, sql: str) -> list[tuple[Any, ...]]:
                    return cursor_query(em.cursor(self.project), sql)

                def new_event(self) -> None:
                    values = NEW_EVENT_VALUES.format(sent_at="timestamp '2024-04-01 10:00:00'")
                    table = f"`{self.project}`.{RAW_DATASET}.raw_app_events"
                    em.cursor(self.project).execute(
                        f"insert into {table} {NEW_EVENT_COLUMNS} values {values}"
                    )

            yield BigQuery


def _json_log(log: Path | None) -> dict[str, str]:
    return {"DBT_LOG_FORMAT_FILE": "json", "DBT_LOG_PATH": str(log)} if log else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", choices=["duckdb", "snowflake", "bigquery"])
    parser.add_argument("--more", action="store_true", help="also a chain and a rules stream")
    parser.add_argument("--every-node", action="store_true", help="list every node's requests")
    args = parser.parse_args()
    top = None if args.every_node else 6
    work = Path(tempfile.mkdtemp(prefix=f"round-trips-{args.warehouse}-"))
    print(f"project {PROJECT_DIR}, warehouse {args.warehouse}", flush=True)
    with warehouse(args.warehouse, work) as Db:
        demo = Db("demo")
        demo.dbt(["seed"], None)
        runs = [("demo, full run", None), ("demo, one new event", demo.new_event)]
        for label, before in runs:
            if before is not None:
                before()
            log = work / label.replace(", ", "_").replace(" ", "_")
            demo.dbt(["run"], log)
            target = Path(demo.env["DBT_TARGET_PATH"])
            print(count_run(label, log, target, demo.query).describe(top), flush=True)
        if args.more:
            chain = Stream()
            chain.extend(long_chain(5000).stream)
            rules, _ = rule_stream("A", 12, leave_out=("placeholder_hub",))
            for name, stream, var in (
                ("chain", chain, merge_only_var()),
                ("rules", rules, config("A")),
            ):
                db = Db(name)
                db.write(stream)
                log = work / name
                db.dbt(["run"], log, {"idstitch": var})
                label = "5,000-hop chain" if name == "chain" else "12 rule streams"
                target = Path(db.env["DBT_TARGET_PATH"])
                print(count_run(label, log, target, db.query).describe(top), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
