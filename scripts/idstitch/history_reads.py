"""How many rows of the kept tables (the history) a DuckDB build reads, model by model.

A scheduled run should pay for what arrived, not for the history: a small batch should find
what it touches by keyed lookups, not by passes over every copy, identifier and index row. This
module measures it. While a build runs in this process (through ``DbtProject.invoke``),
:func:`counting` turns on DuckDB's JSON profiler for every statement dbt sends and adds up the
``rows_scanned`` of each table scan, by table and by the model that sent it.

Limits, said where the numbers are printed:
- DuckDB profiles one statement per call, so a script of several statements (the loops of
  ``idstitch_run_script``, the publishing of idstitch_batches), joined by ``SCRIPT_SEPARATOR``,
  is sent here one statement per call, in order and in the same transaction: every statement
  is counted.
- ``rows_scanned`` counts the rows of the row groups a scan opened: a filter on a sorted column
  skips whole row groups (about 122,880 rows each), a lookup by an unsorted key does not.
- A bare ``count(*)`` (no column, no filter) is not counted: DuckDB answers it from the row
  groups' row counts, as Snowflake and BigQuery answer it from their metadata.
- Profiling costs time: count in a run that is not timed.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Reads:
    """Rows scanned per (model, table) while counting, and the statements profiled."""

    rows: Counter[tuple[str, str]] = field(default_factory=Counter)
    statements: int = 0

    def by_table(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for (_, table), rows in self.rows.items():
            totals[table] += rows
        return totals

    def callback(self) -> Callable[[Any], None]:
        """A dbt event callback that tells the counter which model is running."""

        def on_event(event: Any) -> None:
            if event.info.name == "NodeStart":
                self._models[threading.get_ident()] = str(event.data.node_info.node_name)

        return on_event

    def model(self) -> str:
        """The model this thread runs (dbt runs models in several threads)."""
        return self._models.get(threading.get_ident(), "(no model)")

    _models: dict[int, str] = field(default_factory=dict)


def _scans(node: dict[str, Any], counted_only: bool = False) -> Iterator[tuple[str, int]]:
    """(table, rows scanned) of every table scan under a profile node. A bare ``count(*)`` of a
    table (`counted_only`: the scan feeds nothing but a count_star, reads no column and filters
    nothing) reads the row groups' row counts only, which DuckDB keeps in its metadata as
    Snowflake and BigQuery do: it reads no row."""
    info = node.get("extra_info") or {}
    table = info.get("Table")
    bare = counted_only and info.get("Projections") == "" and not any("Filter" in k for k in info)
    if node.get("type") == "TABLE_SCAN" and isinstance(table, str) and not bare:
        yield table, int(node.get("rows_scanned") or 0)
    aggregates = info.get("Aggregates")
    counts_only = node.get("type") == "UNGROUPED_AGGREGATE" and aggregates == "count_star()"
    # DuckDB 2 puts the plan under "operator"; older versions under "children"
    for child in [*(node.get("children") or []), *(node.get("operator") or [])]:
        yield from _scans(child, counts_only)


# how idstitch joins the statements of a script (idstitch_run_joined_script, idstitch_publish)
SCRIPT_SEPARATOR = "\n;\n"


@contextmanager
def counting() -> Iterator[Reads]:
    """Count the rows every statement dbt-duckdb sends in this process scans, per table.

    Register ``reads.callback()`` with the dbt invocation so rows are attributed to models."""
    from dbt.adapters.duckdb.environments import local

    reads = Reads()
    wrapper = local.DuckDBCursorWrapper
    original = wrapper.execute
    with tempfile.TemporaryDirectory(prefix="idstitch-reads-") as tmp:

        def execute(self: Any, sql: str, bindings: Any = None) -> Any:
            # one profile file per thread: dbt runs models in several threads at once
            profile = Path(tmp) / f"profile-{threading.get_ident()}.json"
            cursor = self._cursor
            cursor.execute("set enable_profiling = 'json'")
            cursor.execute(f"set profiling_output = '{profile}'")
            parts = sql.split(SCRIPT_SEPARATOR) if bindings is None else [sql]
            for part in parts:
                profile.unlink(missing_ok=True)
                result = original(self, part, bindings)  # type: ignore[no-untyped-call]
                if profile.exists():
                    data = json.loads(profile.read_text() or "{}")
                    reads.statements += 1
                    for table, rows in _scans(data):
                        reads.rows[(reads.model(), ".".join(table.split(".")[-2:]))] += rows
            return result

        wrapper.execute = execute  # type: ignore[method-assign]
        try:
            yield reads
        finally:
            wrapper.execute = original  # type: ignore[method-assign]
