"""The requests a build sends to the warehouse, and the target of issue #19: at most one per
model plus two per loop round (docs/warehouses.md, "Round trips").

A build is counted from dbt's JSON log (every `SQLQuery` event is one request: a statement, a
Snowflake Scripting block, or a BigQuery job). The bound comes from the build itself: the models
of its manifest that dbt runs (ephemeral ones send nothing), and the loop rounds it logged in
idstitch_run_log.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator_commands import dbt_log

LOOP_STEPS = ("connected_components", "constrained_resolution")
LOOP_MODELS = {
    "connected_components": "model.idstitch.int_idstitch__components",
    "constrained_resolution": "model.idstitch.int_idstitch__decisions",
}
# a new event for the demo's raw_app_events: an app open of Jane's user id on a new device
NEW_EVENT_COLUMNS = "(event_id, sent_at, event_name, device_id, user_id)"
NEW_EVENT_VALUES = "('app-round-trips-1', {sent_at}, 'app_open', 'dev-round-trips-1', 'u_1001')"


@dataclass(frozen=True)
class Count:
    label: str
    sent: int
    models: int
    rounds: int
    by_node: dict[str, int]
    logged: dict[str, int]  # step -> requests the loop model logged (`<step>:requests`)

    @property
    def bound(self) -> int:
        return self.models + 2 * self.rounds

    def describe(self, top_nodes: int | None = 6) -> str:
        """One line: the count, its bound, and the `top_nodes` heaviest nodes (None: every node)."""
        top = ", ".join(
            f"{node.split('.')[-1] or 'dbt'}: {n}"
            for node, n in Counter(self.by_node).most_common(top_nodes)
        )
        return (
            f"{self.label}: {self.sent} requests, bound {self.bound} = {self.models} models"
            f" + 2 x {self.rounds} loop rounds ({top})"
        )


def run_models(target_dir: Path) -> int:
    """The models of the manifest that a `dbt run` builds: not an ephemeral model (inlined), nor
    a published table's model (idstitch_batches writes it; the model itself sends nothing, and
    counting it would loosen the bound)."""
    manifest = json.loads((target_dir / "manifest.json").read_text())
    return sum(
        1
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["config"].get("enabled", True)
        and node["config"].get("materialized") not in ("ephemeral", "idstitch_published")
    )


def count_run(
    label: str,
    log_dir: Path,
    target_dir: Path,
    query: Callable[[str], list[tuple[Any, ...]]],
) -> Count:
    """Count the last dbt command logged in `log_dir`; `query` reads the warehouse."""
    invocation, sent = dbt_log(log_dir)
    rows = query(
        "select step, count(*), sum(rows_changed) from idstitch_run_log"
        f" where run_id = '{invocation}' group by step"
    )
    steps = {str(step): (int(n), int(total)) for step, n, total in rows}
    rounds = sum(steps.get(step, (0, 0))[0] for step in LOOP_STEPS)
    logged = {s: steps[f"{s}:requests"][1] for s in LOOP_STEPS if f"{s}:requests" in steps}
    return Count(
        label,
        len(sent),
        run_models(target_dir),
        rounds,
        dict(Counter(node for node, _ in sent)),
        logged,
    )


def assert_counted(count: Count, full: bool) -> None:
    """What the project guarantees: the loops' `:requests` rows equal what dbt sent for the loop
    models, and in a full run every other model sends one request, its `create ... as`, but for
    one more request, by the first model that needs the rule relations (the never-merge rows
    and the erasure requests, read together once per run: stg_idstitch__identifiers, which
    applies the requests, or idstitch_batches, which hashes the rules). An incremental run's
    models also read columns and load-time bounds, so only the loops are checked there."""
    assert set(count.logged) == set(LOOP_STEPS), count.describe()
    for step, model in LOOP_MODELS.items():
        assert count.logged[step] == count.by_node.get(model, 0), (step, count.describe())
    assert count.rounds > 0, count.describe()
    if not full:
        return
    readers = {"model.idstitch.stg_idstitch__identifiers", "model.idstitch.idstitch_batches"}
    heavy = {
        node: n
        for node, n in count.by_node.items()
        if node and node not in LOOP_MODELS.values() and n > 1
    }
    assert sum(heavy.values()) - len(heavy) <= 1 and set(heavy) <= readers, (
        heavy,
        count.describe(),
    )


def assert_within_target(counts: list[Count]) -> None:
    """The target of issue #19: a build sends at most one request per model plus two per loop
    round (docs/warehouses.md, "Round trips"), dbt's own requests included."""
    above = [c.describe() for c in counts if c.sent > c.bound]
    assert not above, "above the round-trip target: " + "; ".join(above)
