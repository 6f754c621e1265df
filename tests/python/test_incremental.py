"""Incremental runs: random rule streams arrive in 2-5 batches each (late events, duplicates,
binding rules, devices that turn shared); after the last batch the marts equal a full refresh
row for row, lineage explains every id change, a rerun changes nothing, a run that dies between
iterations leaves the marts alone and the next run finishes the job, and changed rules force a
full rebuild."""

from __future__ import annotations

import copy
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from idstitch.config import parse_config
from idstitch.incremental_bench import MARTS, Snapshot, diff_snapshots, snapshot
from idstitch.runner import PROJECT_DIR, DbtError, DbtProject
from idstitch.summary import read_summary
from rules import by_load_time, config

from streams import BASE_TIME, Stream, random_stream
from warehouse import (
    assert_matches_reference,
    connect,
    copy_database,
    query,
    rudder_ids,
    write_raw,
)

CASES_PER_VARIANT = 60  # two variants: 120 random streams
SLOTS = 5
SEED = 2026


def _case_of(row: dict[str, Any]) -> str:
    """The namespace prefix of a random case's row (every value of a case starts with it)."""
    for value in row.values():
        if isinstance(value, str) and value[:1] == "r" and value[4:5] == "_":
            return value[:4]
    return "?"


def load_time(slot: int) -> datetime:
    """When the raw rows of a slot's batch arrive."""
    return BASE_TIME + timedelta(days=30 + slot)


def split_into_slots(stream: Stream, seed: int) -> list[Stream]:
    """Each case's rows spread over 2-5 of the SLOTS runs at random; never-merge pairs (rules,
    not events) all come first."""
    rng = random.Random(seed)
    slots_of: dict[str, list[int]] = {}
    batches = [Stream() for _ in range(SLOTS)]
    for source, rows in stream.rows.items():
        for row in rows:
            if source == "never_merge":
                batches[0].rows[source].append(row)
                continue
            case = _case_of(row)
            if case not in slots_of:
                slots_of[case] = sorted(rng.sample(range(SLOTS), rng.randint(2, SLOTS)))
            batches[rng.choice(slots_of[case])].rows[source].append(row)
    return batches


@dataclass
class IncrementalRun:
    variant: str
    path: Path
    project: DbtProject
    raw_config: dict[str, Any]
    stream: Stream
    mappings: list[dict[tuple[str, str], str]] = field(default_factory=list)
    lineage: list[set[tuple[str, str, str]]] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    killed_run_error: str = ""
    marts_before_killed_run: Snapshot = field(default_factory=dict)
    marts_after_killed_run: Snapshot = field(default_factory=dict)


def variant_config(variant: str) -> dict[str, Any]:
    raw = config(variant)
    # B finds new rows of two sources by their load time
    return by_load_time(raw) if variant == "B" else raw


def lineage_rows(path: Path, run_id: str) -> set[tuple[str, str, str]]:
    con = connect(path)
    try:
        return set(
            query(
                con,
                "select old_rudder_id, rudder_id, reason from rudder_id_lineage "
                f"where run_id = '{run_id}'",
            )
        )
    finally:
        con.close()


def run_incrementally(tmp: Path, variant: str) -> IncrementalRun:
    raw = variant_config(variant)
    stream = random_stream(CASES_PER_VARIANT, SEED + ord(variant), rules=True)
    slots = split_into_slots(stream, SEED + ord(variant))
    path = tmp / f"incremental_{variant.lower()}.duckdb"
    project = DbtProject(duckdb_path=path, vars={"idstitch": raw})
    run = IncrementalRun(variant, path, project, raw, stream)
    for slot, batch in enumerate(slots):
        write_raw(path, batch, load_time(slot))
        if slot == SLOTS - 1:
            # the last batch's first run dies between iterations of a convergence loop
            run.marts_before_killed_run = snapshot(path, MARTS)
            capped = {**raw, "max_iterations": 1}
            with pytest.raises(DbtError) as failure:
                project.invoke(
                    ["run"], extra_vars={"idstitch": capped, "idstitch_run_id": "killed"}
                )
            run.killed_run_error = str(failure.value)
            run.marts_after_killed_run = snapshot(path, MARTS)
        run_id = f"batch{slot}"
        project.invoke(
            ["build", "--exclude", "resource_type:seed"], extra_vars={"idstitch_run_id": run_id}
        )
        run.mappings.append(rudder_ids(path))
        run.lineage.append(lineage_rows(path, run_id))
        con = connect(path)
        try:
            run.resolved.append(
                query(
                    con,
                    f"select max(events_resolved) from idstitch_batches where run_id = '{run_id}'",
                )[0][0]
            )
            run.events.append(query(con, "select count(*) from rudder_identified_events")[0][0])
        finally:
            con.close()
    return run


@pytest.fixture(scope="module", params=["A", "B"])
def incremental(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> IncrementalRun:
    return run_incrementally(tmp_path_factory.mktemp(f"incremental{request.param}"), request.param)


def test_incremental_equals_full_refresh(
    incremental: IncrementalRun, tmp_path_factory: pytest.TempPathFactory
) -> None:
    full = tmp_path_factory.mktemp("full_refresh") / "full.duckdb"
    copy_database(incremental.path, full)
    DbtProject(duckdb_path=full, vars=incremental.project.vars).invoke(
        ["build", "--exclude", "resource_type:seed", "--full-refresh"]
    )
    problems = diff_snapshots(snapshot(full, MARTS), snapshot(incremental.path, MARTS))
    assert not problems, "incremental differs from the full refresh:\n" + "\n".join(problems)
    # and both are the reference's result
    assert_matches_reference(
        incremental.path, parse_config(incremental.raw_config), incremental.stream
    )
    # the runs after the first resolved only part of the events
    assert len(incremental.mappings[-1]) > 250
    assert any(
        resolved < events
        for resolved, events in zip(incremental.resolved[1:], incremental.events[:-1], strict=True)
    )


def test_lineage_explains_every_change(incremental: IncrementalRun) -> None:
    reasons: Counter[str] = Counter()
    for before, after, rows in zip(
        incremental.mappings, incremental.mappings[1:], incremental.lineage[1:], strict=False
    ):
        moved = {
            (before[n], after[n]) for n in before.keys() & after.keys() if before[n] != after[n]
        }
        assert {(old, new) for old, new, _ in rows} == moved
        # every id that disappeared while its nodes live on is explained, and leads to an id
        # that is current
        gone = {before[n] for n in before.keys() & after.keys()} - set(after.values())
        assert gone <= {old for old, _, _ in rows}
        assert {new for _, new, _ in rows} <= set(after.values())
        reasons.update(reason for _, _, reason in rows)
    assert reasons["merge"] > 0 and reasons["rekey"] > 0
    if incremental.variant == "B":
        assert reasons["split"] > 0


def test_rerun_without_new_data_changes_nothing(incremental: IncrementalRun) -> None:
    tables = [*MARTS, "rudder_id_lineage"]
    before = snapshot(incremental.path, tables)
    incremental.project.invoke(
        ["build", "--exclude", "resource_type:seed"], extra_vars={"idstitch_run_id": "rerun"}
    )
    assert not diff_snapshots(before, snapshot(incremental.path, tables))
    con = connect(incremental.path)
    try:
        resolved = query(con, "select events_resolved from idstitch_batches where run_id = 'rerun'")
    finally:
        con.close()
    assert resolved == [(0,)]
    summary = read_summary(incremental.path)
    assert not summary.full_refresh
    assert (summary.new_copies, summary.events_resolved, summary.id_changes) == (0, 0, 0)


def test_killed_run_leaves_marts_and_next_run_finishes(incremental: IncrementalRun) -> None:
    assert "max_iterations = 1" in incremental.killed_run_error
    assert not diff_snapshots(
        incremental.marts_before_killed_run, incremental.marts_after_killed_run
    )
    # the finishing run took the killed run's batch along (checked by equality with the full
    # refresh above); here: the killed batch is recorded as finished by the next run
    con = connect(incremental.path)
    try:
        finished = query(con, "select run_id from idstitch_batches where batch_id = 'killed'")
    finally:
        con.close()
    assert finished == [(f"batch{SLOTS - 1}",)]


def test_kept_tables_of_an_earlier_layout_are_rebuilt(
    incremental: IncrementalRun, tmp_path: Path
) -> None:
    """Tables kept by an earlier release (state version 1: event copies without
    has_earlier_copy, the rules hash of that version) make the next run rebuild every table and
    say why; an incremental run could not add to them."""
    path = tmp_path / "earlier_release.duckdb"
    copy_database(incremental.path, path)
    project = DbtProject(duckdb_path=path, vars={"idstitch": incremental.raw_config})
    compiled = project.invoke(["compile", "--inline", "{{ idstitch_rules_hash(1) }}"], quiet=True)
    earlier_hash = compiled.results[0].node.compiled_code.strip()
    con = connect(path)
    try:
        current = query(
            con,
            "select rules_hash from idstitch_batches"
            " where run_number = (select max(run_number) from idstitch_batches)",
        )
        assert len(earlier_hash) == 32 and current != [(earlier_hash,)]
        con.execute("alter table int_idstitch__event_copies drop column has_earlier_copy")
        con.execute(
            "update idstitch_batches set rules_hash = ?"
            " where run_number = (select max(run_number) from idstitch_batches)",
            [earlier_hash],
        )
    finally:
        con.close()
    messages: list[str] = []

    def on_event(event: Any) -> None:
        if event.info.name == "JinjaLogInfo":
            messages.append(str(event.data.msg))

    project.invoke(
        ["build", "--exclude", "resource_type:seed"],
        extra_vars={"idstitch_run_id": "upgraded"},
        callbacks=[on_event],
    )
    assert any(
        "kept from run to run have an earlier layout (state version 1 -> 2" in m for m in messages
    ), messages
    con = connect(path)
    try:
        full = query(
            con, "select distinct full_refresh from idstitch_batches where run_id = 'upgraded'"
        )
        layout = query(
            con,
            "select count(*) from information_schema.columns where table_name ="
            " 'int_idstitch__event_copies' and column_name = 'has_earlier_copy'",
        )
    finally:
        con.close()
    assert full == [(True,)]
    assert layout == [(1,)]
    assert_matches_reference(path, parse_config(incremental.raw_config), incremental.stream)


def test_changed_rules_force_a_full_rebuild(incremental: IncrementalRun) -> None:
    changed = copy.deepcopy(incremental.raw_config)
    changed["blocked_values"]["exact"] = [*changed["blocked_values"]["exact"], "r000_u0"]
    project = DbtProject(duckdb_path=incremental.path, vars={"idstitch": changed})
    project.invoke(
        ["build", "--exclude", "resource_type:seed"], extra_vars={"idstitch_run_id": "changed"}
    )
    con = connect(incremental.path)
    try:
        full = query(
            con, "select distinct full_refresh from idstitch_batches where run_id = 'changed'"
        )
    finally:
        con.close()
    assert full == [(True,)]
    assert_matches_reference(incremental.path, parse_config(changed), incremental.stream)


def test_tablet_turning_shared_splits_the_profile(tmp_path: Path) -> None:
    """A tablet used by one person and anonymous sessions glues them into one profile; when a
    second person logs in on it in a later batch, it turns shared and the profile splits."""
    from conftest import project_var

    def at(minutes: int) -> Any:
        return BASE_TIME + timedelta(minutes=minutes)

    first, second = Stream(), Stream()
    first.add(
        "web_tracks", message_id="w0", timestamp=at(0), anonymous_id="a0", context_device_id="tab1"
    )
    first.add("app_events", event_id="e1", sent_at=at(1), device_id="tab1", user_id="u_a")
    first.add(
        "web_tracks", message_id="w1", timestamp=at(2), anonymous_id="a1", context_device_id="tab1"
    )
    first.add("app_events", event_id="e2", sent_at=at(3), device_id="phone_a", user_id="u_a")
    second.add("app_events", event_id="e3", sent_at=at(4), device_id="tab1", user_id="u_b")
    path = tmp_path / "tablet.duckdb"
    project = DbtProject(duckdb_path=path, vars={"idstitch": project_var()})
    for slot, batch in enumerate([first, second]):
        write_raw(path, batch, load_time(slot))
        project.invoke(["run"], extra_vars={"idstitch_run_id": f"tablet{slot}"})
        if slot == 0:
            before = rudder_ids(path)
            assert len(set(before.values())) == 1  # one profile, glued by the tablet

    def rid(node: str) -> str:
        import hashlib

        return hashlib.md5(node.encode()).hexdigest()

    old = rid("anonymous_id:a0")
    assert before[("device_id", "tab1")] == old
    assert lineage_rows(path, "tablet1") == {
        (old, rid("device_id:tab1"), "split"),
        (old, rid("user_id:u_a"), "split"),
        (old, rid("anonymous_id:a1"), "split"),
    }
    after = rudder_ids(path)
    assert after[("anonymous_id", "a0")] == old  # the part with the earliest node keeps the id
    assert after[("device_id", "phone_a")] == after[("user_id", "u_a")]
    full = tmp_path / "tablet_full.duckdb"
    copy_database(path, full)
    DbtProject(duckdb_path=full, vars=project.vars).invoke(["run", "--full-refresh"])
    assert not diff_snapshots(snapshot(full, MARTS), snapshot(path, MARTS))


# every table a run publishes (the marts, the kept histories, the state) and its record of the run
PUBLISHED = [
    *MARTS,
    "rudder_id_lineage",
    "idstitch_run_log",
    "int_idstitch__observation_index",
    "idstitch_batches",
]


@dataclass
class KilledRun:
    """A run of the last slots of a random stream, on a copy of a build of its first slots, in a
    dbt process started with `command` (its arguments follow): the lines it printed until the
    test killed it (or it killed itself), and the published tables before it started."""

    path: Path
    raw: dict[str, Any]
    lines: list[str]
    before: Snapshot
    returncode: int


def killed_run(tmp_path: Path, command: list[str], kill_when: str | None) -> KilledRun:
    """Start the run; with `kill_when`, SIGKILL it 0.2 s after it prints a line holding those
    words (else the process is expected to kill itself)."""
    raw = variant_config("A")
    slots = split_into_slots(random_stream(30, SEED + 7, rules=True), SEED + 7)
    path = tmp_path / "first.duckdb"
    project = DbtProject(duckdb_path=path, vars={"idstitch": raw})
    for slot in range(3):
        write_raw(path, slots[slot], load_time(slot))
    project.invoke(["run"])
    for slot in range(3, SLOTS):
        write_raw(path, slots[slot], load_time(slot))
    # dbt in this process holds `path` open: the killed run works on a copy
    killed = tmp_path / "killed.duckdb"
    copy_database(path, killed)
    before = snapshot(killed, PUBLISHED)
    cmd = [
        *command,
        "run",
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--vars",
        json.dumps({"idstitch": raw}),
    ]
    env = {
        **os.environ,
        "IDSTITCH_DUCKDB_PATH": str(killed),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if kill_when is not None and "START" in line and kill_when in line:
                time.sleep(0.2)
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait(timeout=60)
    return KilledRun(killed, raw, seen, before, proc.returncode)


def assert_next_run_finishes(tmp_path: Path, run: KilledRun) -> None:
    """Every published table is as before the killed run, and the next run reaches the full
    refresh's result."""
    assert run.returncode == -signal.SIGKILL, "".join(run.lines)
    assert not diff_snapshots(run.before, snapshot(run.path, PUBLISHED))
    DbtProject(duckdb_path=run.path, vars={"idstitch": run.raw}).invoke(["run"])
    full = tmp_path / "full.duckdb"
    copy_database(run.path, full)
    DbtProject(duckdb_path=full, vars={"idstitch": run.raw}).invoke(["run", "--full-refresh"])
    assert not diff_snapshots(snapshot(full, MARTS), snapshot(run.path, MARTS))


def test_publishing_without_the_rows_to_publish_fails_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """`dbt run --select idstitch_batches` while copies of new raw rows are pending (a run read
    them, then stopped before publishing): the next tables still hold an earlier run's rows, so
    publishing them would apply those again and mark the pending copies finished unresolved.
    The run fails before it writes, saying what to select, and every published table stays as
    it was; a whole run then takes the pending copies up."""
    from conftest import project_var

    first, second = Stream(), Stream()
    first.add("app_events", event_id="e1", sent_at=BASE_TIME, device_id="d1", user_id="u1")
    second.add("app_events", event_id="e2", sent_at=BASE_TIME, device_id="d1", user_id="u2")
    path = tmp_path / "selected.duckdb"
    project = DbtProject(duckdb_path=path, vars={"idstitch": project_var()})
    write_raw(path, first, load_time(0))
    project.invoke(["run"])
    write_raw(path, second, load_time(1))
    project.invoke(["run", "--select", "+int_idstitch__event_copies"])
    before = snapshot(path, PUBLISHED)
    with pytest.raises(DbtError) as failure:
        project.invoke(["run", "--select", "idstitch_batches"])
    assert "Select the models it publishes too: `dbt run --select +idstitch_batches`" in str(
        failure.value
    )
    assert not diff_snapshots(before, snapshot(path, PUBLISHED))
    project.invoke(["run"])
    assert ("user_id", "u2") in rudder_ids(path)


def test_sigkill_during_resolution_leaves_marts_and_next_run_finishes(tmp_path: Path) -> None:
    """A dbt process killed with SIGKILL while the constrained resolution runs: the marts are
    those of the last finished run, and the next run reaches the full refresh's result."""
    dbt = str(Path(sys.executable).parent / "dbt")
    assert_next_run_finishes(tmp_path, killed_run(tmp_path, [dbt], "int_idstitch__decisions"))


def test_sigkill_while_publishing_leaves_every_table_and_next_run_finishes(
    tmp_path: Path,
) -> None:
    """A dbt process killed with SIGKILL in the middle of the transaction that publishes the run,
    after some tables were changed in it: every mart, the state and idstitch_batches are as the
    last finished run left them, and the next run reaches the full refresh's result."""
    wrapper = Path(__file__).parent / "kill_while_publishing.py"
    run = killed_run(tmp_path, [sys.executable, str(wrapper)], None)
    killed = [line for line in run.lines if line.startswith("killed after ")]
    assert killed, "".join(run.lines)
    done, total = (int(word) for word in killed[0].split() if word.isdigit())
    assert 1 < done < total, killed  # some tables changed in the transaction, not all
    assert_next_run_finishes(tmp_path, run)
