"""`idstitch forget` on DuckDB: the request row in the erasures table and in the seed's CSV.

The command appends to the project's seed file, so it runs on a copy of the project (the
repository's seed stays empty); the table is the seed loaded with `dbt seed`.
"""

from __future__ import annotations

import csv
import functools
import hashlib
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from idstitch import cli
from idstitch.config import parse_config
from idstitch.reference import read_erasures
from idstitch.runner import PROJECT_DIR, DbtProject

from conftest import project_var
from emulator_commands import copy_project

SEED = Path("seeds") / "idstitch_erasures.csv"


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the dbt project with the erasures seed loaded into a DuckDB file."""
    root = copy_project(tmp_path_factory.mktemp("forget") / "project")
    DbtProject(project_dir=root, duckdb_path=root / "f.duckdb").invoke(
        ["seed", "--select", "idstitch_erasures"]
    )
    return root


def _forget(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(cli, "DbtProject", functools.partial(DbtProject, project_dir=root))
    result = CliRunner().invoke(cli.main, ["forget", *args, "--duckdb", str(root / "f.duckdb")])
    return result.exit_code, result.output


def _table(root: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(root / "f.duckdb"))
    try:
        return con.execute(
            "select erasure_id, id_type, id_value, id_hash, scope, requested_at"
            " from idstitch_raw.idstitch_erasures order by requested_at, erasure_id"
        ).fetchall()
    finally:
        con.close()


def _csv(root: Path) -> list[dict[str, str]]:
    with (root / SEED).open(newline="") as f:
        return list(csv.DictReader(f))


def test_forget_writes_the_hash_never_the_value(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = _forget(project_copy, monkeypatch, "Email: Jane.Doe@Example.COM ", "--id", "t1")
    assert code == 0, output
    expected = hashlib.md5(b"email:jane.doe@example.com").hexdigest()
    assert expected in output and "jane" not in output.lower()
    assert "next run removes the data" in output
    rows = [r for r in _table(project_copy) if r[0] == "t1"]
    assert [r[:5] for r in rows] == [("t1", "email", None, expected, "identifier")]
    assert rows[0][5] is not None
    in_file = [r for r in _csv(project_copy) if r["erasure_id"] == "t1"]
    assert in_file == [
        {
            "erasure_id": "t1",
            "requested_at": str(rows[0][5]),
            "id_type": "email",
            "id_value": "",
            "id_hash": expected,
            "scope": "identifier",
        }
    ]
    # the repository's own seed is untouched, and the request is one the reference applies
    assert (PROJECT_DIR / SEED).read_text().strip().count("\n") == 0
    config = parse_config(project_var())
    assert [(e.hash, e.scope) for e in read_erasures(config, _csv(project_copy))][-1:] == [
        (expected, "identifier")
    ]


def test_forget_a_profile_and_reseed_keeps_the_requests(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = _forget(project_copy, monkeypatch, "phone:(415) 555-0100", "--profile")
    assert code == 0, output
    expected = hashlib.md5(b"phone:+14155550100").hexdigest()
    row = next(r for r in _table(project_copy) if r[3] == expected)
    assert row[4] == "profile" and len(str(row[0])) == 32 and row[2] is None
    before = _table(project_copy)
    # `dbt seed` replaces the table with the file: the file holds every request
    DbtProject(project_dir=project_copy, duckdb_path=project_copy / "f.duckdb").invoke(
        ["seed", "--select", "idstitch_erasures"]
    )
    assert _table(project_copy) == before and len(before) == len(_csv(project_copy))


def test_forget_refuses_an_unknown_type(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (_table(project_copy), _csv(project_copy))
    code, output = _forget(project_copy, monkeypatch, "loyalty_card:123")
    assert code == 2
    assert "unknown identifier type `loyalty_card`" in output
    code, output = _forget(project_copy, monkeypatch, "email:   ")
    assert code == 2 and "no value" in output
    assert (_table(project_copy), _csv(project_copy)) == before
