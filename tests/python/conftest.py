"""One dbt build per test session and purpose: the demo, and the random streams."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

# Under pytest-xdist (`make test` runs two workers), each worker process gets dbt's target and
# log directories of its own: in-process dbt runs write their manifest, compiled SQL and logs
# there, and two workers must not write the same files.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _worker, _project = os.environ["PYTEST_XDIST_WORKER"], Path(__file__).resolve().parents[2]
    os.environ.setdefault("DBT_TARGET_PATH", str(_project / "target" / "workers" / _worker))
    os.environ.setdefault("DBT_LOG_PATH", str(_project / "logs" / "workers" / _worker))

from idstitch.config import Config, parse_config  # noqa: E402
from idstitch.runner import PROJECT_DIR, DbtProject  # noqa: E402

from streams import Scenario, Stream, long_chain, random_stream, scenarios  # noqa: E402
from warehouse import write_raw  # noqa: E402

RANDOM_CASES = 240
SEED = 20261128


def project_var() -> dict[str, Any]:
    """The idstitch var of dbt_project.yml (the demo configuration)."""
    with open(PROJECT_DIR / "dbt_project.yml") as f:
        return yaml.safe_load(f)["vars"]["idstitch"]


def merge_only_var() -> dict[str, Any]:
    """The demo configuration without limits: the plain connected-components case."""
    raw = project_var()
    raw["id_types"] = [{k: v for k, v in t.items() if k != "limit"} for t in raw["id_types"]]
    return raw


@dataclass
class Build:
    path: Path
    project: DbtProject
    config: Config
    stream: Stream
    scenarios: list[Scenario]


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The demo, exactly as `make demo` builds it (seeds, models, data and unit tests)."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    project = DbtProject(duckdb_path=path)
    project.invoke(["seed"])
    project.invoke(["build", "--exclude", "resource_type:seed"])
    return Build(path, project, parse_config(project_var()), Stream(), [])


@pytest.fixture(scope="session")
def streams_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """Hundreds of random cases, the named scenarios and a long chain, in one build."""
    raw = merge_only_var()
    stream = random_stream(RANDOM_CASES, SEED)
    named = [*scenarios(), long_chain()]
    for scenario in named:
        stream.extend(scenario.stream)
    path = tmp_path_factory.mktemp("streams") / "streams.duckdb"
    write_raw(path, stream)
    project = DbtProject(duckdb_path=path, vars={"idstitch": raw})
    project.invoke(["build", "--exclude", "resource_type:seed"])
    return Build(path, project, parse_config(raw), stream, named)


# --- synthetic data with ground truth, built twice: by `idstitch run` and by plain `dbt build`

SYNTHETIC_PEOPLE = 400
SYNTHETIC_SEED = 11


@dataclass
class CliRun:
    path: Path
    exit_code: int
    output: str


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """Generated events for a few hundred people, built by the `idstitch run` command."""
    from click.testing import CliRunner

    from idstitch.cli import main
    from idstitch.generate import write_duckdb

    path = tmp_path_factory.mktemp("synthetic_run") / "synthetic.duckdb"
    write_duckdb(path, SYNTHETIC_PEOPLE, SYNTHETIC_SEED)
    result = CliRunner().invoke(main, ["run", "--duckdb", str(path)])
    return CliRun(path, result.exit_code, result.output)


@pytest.fixture(scope="session")
def synthetic_dbt_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same generated events, built by a plain `dbt build`."""
    from idstitch.generate import write_duckdb

    path = tmp_path_factory.mktemp("synthetic_build") / "synthetic.duckdb"
    write_duckdb(path, SYNTHETIC_PEOPLE, SYNTHETIC_SEED)
    DbtProject(duckdb_path=path).invoke(["build", "--exclude", "resource_type:seed"])
    return path
