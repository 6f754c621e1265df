"""max_iterations is a hard cap: reaching it fails the run and names the cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from idstitch.runner import DbtError, DbtProject

from conftest import Build, project_var
from warehouse import copy_database


def test_cap_fails_loudly(streams_build: Build, tmp_path: Path) -> None:
    path = tmp_path / "capped.duckdb"
    copy_database(streams_build.path, path)  # the long chain needs more than 3 rounds
    raw = dict(project_var(), max_iterations=3)
    project = DbtProject(duckdb_path=path, vars={"idstitch": raw})
    with pytest.raises(DbtError) as e:
        project.invoke(["run", "--select", "int_idstitch__components"])
    message = str(e.value)
    assert "did not converge within max_iterations = 3" in message
    assert "edges left" in message
