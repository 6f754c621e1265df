"""`python kill_while_publishing.py <dbt arguments>`: dbt, killed with SIGKILL in the middle of
publishing a run on DuckDB.

When the script that publishes the run (materialization idstitch_publish) reaches DuckDB, the
first half of its statements run, inside the transaction dbt opened for it, and then the process
kills itself: some tables are changed in the open transaction, the others not yet. It prints
`killed after K of N publishing statements` first, so the test can check the kill landed there.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

MARK = "-- idstitch publishes run"
SEPARATOR = "\n;\n"


def main() -> None:
    from dbt.adapters.duckdb.environments import local
    from dbt.cli.main import cli

    wrapper = local.DuckDBCursorWrapper
    original = wrapper.execute

    def execute(self: Any, sql: str, bindings: Any = None) -> Any:
        if bindings is None and MARK in sql:
            statements = sql.split(SEPARATOR)
            done = max(1, len(statements) // 2)
            for statement in statements[:done]:
                original(self, statement)
            print(f"killed after {done} of {len(statements)} publishing statements", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, sql, bindings)

    wrapper.execute = execute
    sys.argv = ["dbt", *sys.argv[1:]]
    cli()


if __name__ == "__main__":
    main()
