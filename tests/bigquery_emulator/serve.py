"""The BigQuery emulator of the warehouse tests: crucible-emulator, with a small shim.

Run by the interpreter of its own virtualenv (``.venv-bq/bin/python serve.py PORT``); the test
session starts it and kills it at the end. Crucible translates BigQuery SQL to DuckDB and
refuses what it does not emulate. The shim supplies the two functions idstitch uses that it
lacks, and the transaction statements of a script, in the emulator process only: the SQL
idstitch sends is what real BigQuery gets.
"""

from __future__ import annotations

import sys
from typing import Any

# BigQuery functions crucible refuses, defined in DuckDB with BigQuery's documented semantics.
SHIM_MACROS = [
    # CODE_POINTS_TO_STRING(array of code points): the string of those characters
    "create or replace macro code_points_to_string(x) as"
    " list_aggregate(list_transform(x, lambda c: chr(c)), 'string_agg', '')",
    # FARM_FINGERPRINT(value) stand-in: an INT64 hash. idstitch uses it only for the random
    # keys of the loop's rounds, which change how many rounds run, never the result.
    "create or replace macro idstitch_fingerprint(x) as cast(hash(x) >> 1 as bigint)",
]


def install_shim() -> None:
    from crucible.dialects.bigquery import transforms
    from crucible.engine import engine
    from sqlglot import exp

    original_init = engine.Engine.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        for sql in SHIM_MACROS:
            self._con.execute(sql)

    engine.Engine.__init__ = init

    def fingerprint(tree: Any, ctx: Any) -> Any:
        for node in list(tree.find_all(exp.FarmFingerprint)):
            args = [a.copy() for a in (node.expressions or [node.this])]
            call = exp.Anonymous(this="idstitch_fingerprint", expressions=args)
            new = exp.Cast(this=call, to=exp.DataType.build("BIGINT"))
            new.type = exp.DataType.build("BIGINT")
            node.replace(new)
        return tree

    transforms.PIPELINE = (("idstitch_fingerprint", fingerprint), *transforms.PIPELINE)
    install_transactions()


def install_transactions() -> None:
    """BEGIN TRANSACTION, COMMIT TRANSACTION and ROLLBACK TRANSACTION inside a script (a job), as
    BigQuery runs them: the statements between BEGIN and COMMIT apply together or not at all,
    and a script that fails with a transaction open rolls it back. Crucible has the engine's
    begin/commit/rollback but refuses the statements; this maps each statement to them."""
    from crucible.dialects.bigquery import statements
    from crucible.engine import CommandPlan, Result
    from crucible.engine import pipeline
    from sqlglot import exp

    verbs = {exp.Transaction: "begin", exp.Commit: "commit", exp.Rollback: "rollback"}
    original_plan = statements._plan

    def plan(tree: Any, ctx: Any) -> Any:
        verb = verbs.get(type(tree))
        if verb is None:
            return original_plan(tree, ctx)

        def run(c: Any) -> Any:
            getattr(c, verb)()
            return Result("")

        return CommandPlan(run, verb.upper() + "_TRANSACTION")

    statements._plan = plan
    original_execute = pipeline.Pipeline.execute

    def execute(self: Any, session: Any, sql: str, params: Any = None) -> Any:
        try:
            return original_execute(self, session, sql, params)
        except Exception:
            if session.transaction is not None:
                cursor, session.transaction = session.transaction, None
                cursor.execute("rollback")
                cursor.close()
            raise

    pipeline.Pipeline.execute = execute


if __name__ == "__main__":
    install_shim()
    from crucible.cli import main

    sys.exit(main(["serve", "--dialect", "bigquery", "--port", sys.argv[1]]))
