"""The project documents itself: every column of every mart is described in its YAML (the
trait columns of rudder_profiles, which the var names, by the model's description), and no
file cites a document that a clone of the project does not have."""

from __future__ import annotations

import re
import subprocess

from idstitch.runner import PROJECT_DIR

from conftest import Build
from warehouse import connect, query

# what a file may not cite: the team's specification and the folder beside the project (spelled
# with character classes, so that this file does not match itself)
OUTSIDE = re.compile(r"C[O]NTRACT|\.\./[s]hared")


def test_every_mart_column_is_described(demo_build: Build) -> None:
    manifest = demo_build.project.parse()
    marts = [
        n
        for n in manifest.nodes.values()
        if n.resource_type == "model" and n.original_file_path.startswith("models/marts/")
    ]
    assert len(marts) >= 11
    con = connect(demo_build.path)
    try:
        missing = []
        for node in marts:
            columns = query(
                con,
                "select column_name from information_schema.columns"
                f" where table_schema = 'idstitch' and table_name = '{node.alias}'",
            )
            assert columns, node.name
            assert node.description.strip(), node.name
            for (column,) in columns:
                if node.name == "rudder_profiles" and column in demo_build.config.trait_names:
                    continue  # one column per configured trait: the model's description says so
                described = node.columns.get(column)
                if described is None or not described.description.strip():
                    missing.append(f"{node.name}.{column}")
    finally:
        con.close()
    assert not missing, f"columns without a description: {missing}"
    profiles = next(n for n in marts if n.name == "rudder_profiles")
    assert "trait" in profiles.description


def test_no_file_cites_a_document_outside_the_project() -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    citing = []
    for name in files:
        path = PROJECT_DIR / name
        if not path.is_file():
            continue
        if path.suffix not in {".md", ".sql", ".py", ".yml", ".yaml", ".toml", ".cfg", ""}:
            continue
        if OUTSIDE.search(path.read_text(errors="replace")):
            citing.append(name)
    assert not citing, f"these files cite a document outside the project: {citing}"
