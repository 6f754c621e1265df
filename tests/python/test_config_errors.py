"""A bad idstitch var fails the run at once, with a message that names the key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from idstitch.config import ConfigError, parse_config
from idstitch.runner import DbtError, DbtProject

from conftest import project_var


def _with(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(project_var())
    change(raw)
    return raw


BAD = [
    (lambda c: c.update(colour="blue"), "idstitch.colour"),
    (lambda c: c["id_types"].append({"name": "email"}), "idstitch.id_types[5].name"),
    (lambda c: c["id_types"][1].update(normalise="email"), "idstitch.id_types[1].normalise"),
    (lambda c: c["id_types"][1].update(normalize="upper"), "idstitch.id_types[1].normalize"),
    (
        lambda c: c["sources"][0]["identifiers"].update(fax="fax"),
        "idstitch.sources[0].identifiers.fax",
    ),
    (lambda c: c["sources"][1].update(strategy="greedy"), "idstitch.sources[1].strategy"),
    (
        lambda c: c["blocked_values"]["patterns"].append("(unclosed"),
        "idstitch.blocked_values.patterns[1]",
    ),
    (lambda c: c.update(max_iterations=0), "idstitch.max_iterations"),
    (lambda c: c["sources"][2].pop("event_id"), "idstitch.sources[2].event_id"),
    (lambda c: c["sources"].append(dict(c["sources"][0])), "idstitch.sources[5].name"),
    (lambda c: c["id_types"][0].update(limit=0), "idstitch.id_types[0].limit"),
    (
        lambda c: c["id_types"][4].update(shared_after={"fax": 1}),
        "idstitch.id_types[4].shared_after.fax",
    ),
    (lambda c: c["sources"][0].update(name="manual_merges"), "idstitch.sources[0].name"),
    (lambda c: c.update(never_merge={"table": "x"}), "idstitch.never_merge.table"),
    (lambda c: c.update(manual_merges={"source": "merges"}), "idstitch.manual_merges.source"),
    (
        lambda c: c.update(never_merge={"source": "a.b", "ref": "c"}),
        "idstitch.never_merge",
    ),
    (
        lambda c: c["id_types"][3].update(limit={"count": 2, "per": "fortnight"}),
        "idstitch.id_types[3].limit.per",
    ),
    (
        lambda c: c["id_types"][3].update(limit={"count": 0, "per": "week"}),
        "idstitch.id_types[3].limit.count",
    ),
    (lambda c: c["id_types"][3].update(limit={"per": "week"}), "idstitch.id_types[3].limit.count"),
    (
        lambda c: c["id_types"][3].update(limit={"count": 2, "every": "week"}),
        "idstitch.id_types[3].limit.every",
    ),
    (lambda c: c["sources"][0].update(append_only="yes"), "idstitch.sources[0].append_only"),
    (lambda c: c.update(erasures={"table": "x"}), "idstitch.erasures.table"),
]


@pytest.mark.parametrize(("change", "key"), BAD, ids=[k for _, k in BAD])
def test_python_validation_names_the_key(change: Any, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(_with(change))
    assert e.value.key == key
    assert f"`{key}`" in str(e.value)


def test_demo_config_is_valid() -> None:
    config = parse_config(project_var())
    assert [t.name for t in config.id_types][:2] == ["user_id", "email"]
    # the demo's rules are demo data in its own raw tables; without the keys, the project's
    # (empty) rule seeds are read
    assert config.manual_merges.source == "demo.raw_manual_merges"
    assert config.never_merge.source == "demo.raw_never_merge"
    bare = parse_config(_with(lambda c: [c.pop("manual_merges"), c.pop("never_merge")]))
    assert (bare.manual_merges.ref, bare.never_merge.ref) == (
        "idstitch_manual_merges",
        "idstitch_never_merge",
    )


@pytest.mark.parametrize("index", [0, 4, 6, 9, 14, 16, 20])
def test_dbt_fails_at_parse_time_naming_the_key(tmp_path: Any, index: int) -> None:
    change, key = BAD[index]
    project = DbtProject(duckdb_path=tmp_path / "bad.duckdb", vars={"idstitch": _with(change)})
    with pytest.raises(DbtError) as e:
        project.invoke(["parse"])
    assert f"idstitch configuration error at `{key}`" in str(e.value)
