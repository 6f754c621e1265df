"""The dbt invariant tests catch broken marts (they are not tests that cannot fail)."""

from __future__ import annotations

from pathlib import Path

import pytest

from idstitch.runner import DbtError, DbtProject

from conftest import Build
from warehouse import corrupted_copy


def _corrupted_copy(build: Build, tmp_path: Path, statements: list[str]) -> DbtProject:
    return DbtProject(duckdb_path=corrupted_copy(build.path, tmp_path / "demo.duckdb", statements))


def test_clean_demo_passes_the_invariants(demo_build: Build, tmp_path: Path) -> None:
    project = _corrupted_copy(demo_build, tmp_path, [])
    project.invoke(["test", "--select", "marts"])


def test_corruption_is_caught(demo_build: Build, tmp_path: Path) -> None:
    project = _corrupted_copy(
        demo_build,
        tmp_path,
        [
            # a node moved to another profile: the edges through it now cross two profiles
            "update rudder_identity_mappings set rudder_id = md5('elsewhere') "
            "where id_type = 'email' and id_value = 'jane.doe@example.com'",
            # a node mapped twice
            "insert into rudder_identity_mappings select * replace (md5('twice') as rudder_id) "
            "from rudder_identity_mappings where id_value = 'u_2002'",
            # an event lost
            "delete from rudder_identified_events where event_id = 'a003'",
        ],
    )
    with pytest.raises(DbtError) as e:
        project.invoke(["test", "--select", "marts"])
    message = str(e.value)
    for name in (
        "idstitch_applied_edges_share_rudder_id",
        "idstitch_one_rudder_id_per_node",
        "idstitch_every_event_accounted_for",
    ):
        assert name in message, name


def test_state_drift_is_caught(demo_build: Build, tmp_path: Path) -> None:
    for folder in ("clean", "drifted"):
        (tmp_path / folder).mkdir()
    clean = _corrupted_copy(demo_build, tmp_path / "clean", [])
    clean.invoke(["test", "--select", "state"])
    project = _corrupted_copy(
        demo_build,
        tmp_path / "drifted",
        # an event the marts identify is missing from the state the next run starts from
        ["delete from int_idstitch__observation_index where event_id = 'a003'"],
    )
    with pytest.raises(DbtError) as e:
        project.invoke(["test", "--select", "state"])
    assert "idstitch_state_matches_marts" in str(e.value)
