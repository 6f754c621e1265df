"""The ``idstitch`` dbt var, parsed and validated in Python.

``macros/config/idstitch_config.sql`` validates the same var inside dbt with the same rules and
messages; this module serves the reference, the command line and the tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from idstitch.normalize import NORMALIZE_RULES, Blocked

STRATEGIES = ("merge", "first_alias", "first", "strict")
MANUAL_STRATEGY = "manual"  # the built-in source of manual merges: forced unions
MANUAL_MERGES_SOURCE = "manual_merges"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ConfigError(ValueError):
    """A bad ``idstitch`` var; the message names the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"idstitch configuration error at `{key}`: {message}")
        self.key = key


@dataclass(frozen=True)
class IdType:
    name: str
    priority: int  # 1 = highest
    normalize: str = "none"
    limit: int | None = None  # the count of `limit` (a plain number, or `count:`)
    limit_per: str = "ever"  # the period of `limit` (docs/semantics.md §3b)
    blocked: Blocked = field(default_factory=Blocked)
    shared_after: Mapping[str, int] = field(default_factory=dict)

    @property
    def limit_window(self) -> timedelta | None:
        """How long a value counts toward the limit after it was last observed (None: ever)."""
        return LIMIT_PERIODS[self.limit_per]


@dataclass(frozen=True)
class ColumnType:
    column: str
    id_type: str


@dataclass(frozen=True)
class Pair:
    type_column: str
    value_column: str


@dataclass(frozen=True)
class Source:
    name: str
    event_id: str
    occurred_at: str
    source: str | None = None
    ref: str | None = None
    strategy: str = "merge"
    identifiers: tuple[ColumnType, ...] = ()
    aliases: tuple[ColumnType, ...] = ()
    pairs: tuple[Pair, ...] = ()
    traits: tuple[str, ...] = ()
    loaded_at: str | None = None
    append_only: bool = False  # rows are never deleted: runs skip looking for deleted rows

    @property
    def columns(self) -> list[str]:
        """Every configured column once, in the fingerprint's order (as the SQL macro)."""
        cols: list[str] = [c.column for c in self.identifiers + self.aliases]
        for p in self.pairs:
            cols += [p.type_column, p.value_column]
        cols += list(self.traits)
        return list(dict.fromkeys(cols))


@dataclass(frozen=True)
class Relation:
    """A relation the var names: a dbt source (`source_name.table_name`) or a model or seed."""

    source: str | None = None
    ref: str | None = None


# the project's rule seeds, which ship empty: the var's `manual_merges` / `never_merge` name others
DEFAULT_MANUAL_MERGES = Relation(ref="idstitch_manual_merges")
DEFAULT_NEVER_MERGE = Relation(ref="idstitch_never_merge")
# the erasure requests (docs/semantics.md §3c), also a seed that ships empty
DEFAULT_ERASURES = Relation(ref="idstitch_erasures")


@dataclass(frozen=True)
class Config:
    id_types: tuple[IdType, ...]
    blocked: Blocked
    default_phone_country_code: str
    max_iterations: int
    sources: tuple[Source, ...]
    max_resolution_rounds: int = 10000
    manual_merges: Relation = DEFAULT_MANUAL_MERGES
    never_merge: Relation = DEFAULT_NEVER_MERGE
    erasures: Relation = DEFAULT_ERASURES

    @property
    def types_by_name(self) -> dict[str, IdType]:
        return {t.name: t for t in self.id_types}

    @property
    def trait_names(self) -> list[str]:
        return list(dict.fromkeys(t for s in self.sources for t in s.traits))


def _fail(key: str, message: str) -> None:
    raise ConfigError(key, message)


def _check_keys(key: str, value: Any, allowed: list[str]) -> None:
    if not isinstance(value, Mapping):
        _fail(key, f"expected a mapping, got {value}")
    for k in value:
        if k not in allowed:
            _fail(f"{key}.{k}", "unknown key; allowed keys are: " + ", ".join(allowed))


def _check_name(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        _fail(key, f"expected a lowercase name (letters, digits, underscores), got {value}")
    return str(value)


def _check_column(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(key, f"expected a column name, got {value}")
    return str(value)


def _check_positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _fail(key, f"expected a whole number of at least 1, got {value}")
    return int(value)


# the periods of a limit (docs/semantics.md §3b): a value counts while last observed within it
LIMIT_PERIODS: dict[str, timedelta | None] = {
    "ever": None,
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}


def _parse_limit(key: str, value: Any) -> tuple[int | None, str]:
    """`limit`: none, a count (ever), or {count: n, per: ever|day|week|month|year}."""
    if value is None:
        return None, "ever"
    if not isinstance(value, Mapping):
        return _check_positive_int(key, value), "ever"
    _check_keys(key, value, ["count", "per"])
    if "count" not in value:
        _fail(f"{key}.count", "missing; a limit over a period is {count: n, per: P}")
    count = _check_positive_int(f"{key}.count", value["count"])
    per = value.get("per", "ever")
    if per not in LIMIT_PERIODS:
        _fail(f"{key}.per", "expected one of " + ", ".join(LIMIT_PERIODS) + f"; got {per}")
    return count, str(per)


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _parse_blocked(key: str, value: Any) -> Blocked:
    if value is None:
        return Blocked()
    if not (_is_list(value) or isinstance(value, Mapping)):
        _fail(key, "expected a list of values or a mapping with `exact` and `patterns`")
    spec = value if isinstance(value, Mapping) else {"exact": value}
    _check_keys(key, spec, ["exact", "patterns"])
    exact: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for part in ("exact", "patterns"):
        items = spec.get(part) or []
        if not _is_list(items):
            _fail(f"{key}.{part}", "expected a list")
        for i, item in enumerate(items):
            item_key = f"{key}.{part}[{i}]"
            if item is None or isinstance(item, (Mapping, list, tuple)):
                _fail(item_key, "expected a single value")
            if part == "patterns":
                try:
                    patterns.append(re.compile(str(item)))
                except re.error:
                    _fail(item_key, f"not a valid regular expression: {item}")
            else:
                exact.add(str(item).lower())
    return Blocked(frozenset(exact), tuple(patterns))


def _parse_column_types(
    key: str, value: Any, types: Mapping[str, IdType]
) -> tuple[ColumnType, ...]:
    mapping = value or {}
    if not isinstance(mapping, Mapping):
        _fail(key, "expected a mapping column -> identifier type")
    out = []
    for col, type_name in mapping.items():
        _check_column(f"{key}.{col}", col)
        if type_name not in types:
            _fail(
                f"{key}.{col}",
                f"unknown identifier type `{type_name}`; configured types are: " + ", ".join(types),
            )
        out.append(ColumnType(col, type_name))
    return tuple(out)


def _check_relation(key: str, value: Mapping[str, Any]) -> Relation:
    """Exactly one of `source` (source_name.table_name) or `ref` (a model or seed name)."""
    if (value.get("source") is None) == (value.get("ref") is None):
        _fail(key, "give exactly one of `source` (source_name.table_name) or `ref` (model name)")
    if value.get("source") is not None and (
        not isinstance(value["source"], str) or len(value["source"].split(".")) != 2
    ):
        _fail(f"{key}.source", f"expected `source_name.table_name`, got {value['source']}")
    if value.get("ref") is not None and not isinstance(value["ref"], str):
        _fail(f"{key}.ref", f"expected a model name, got {value['ref']}")
    return Relation(source=value.get("source"), ref=value.get("ref"))


def _parse_relation(key: str, value: Any, default: Relation) -> Relation:
    """A rule relation (`manual_merges`, `never_merge`, `erasures`); `default` when the var does
    not set it."""
    if value is None:
        return default
    _check_keys(key, value, ["source", "ref"])
    return _check_relation(key, value)


def _parse_source(key: str, s: Any, types: Mapping[str, IdType]) -> Source:
    _check_keys(
        key,
        s,
        [
            "name",
            "source",
            "ref",
            "event_id",
            "occurred_at",
            "strategy",
            "identifiers",
            "aliases",
            "pairs",
            "traits",
            "loaded_at",
            "append_only",
        ],
    )
    name = _check_name(f"{key}.name", s.get("name"))
    _check_relation(key, s)
    event_id = _check_column(f"{key}.event_id", s.get("event_id"))
    occurred_at = _check_column(f"{key}.occurred_at", s.get("occurred_at"))
    loaded_at = s.get("loaded_at")
    if loaded_at is not None:
        _check_column(f"{key}.loaded_at", loaded_at)
    append_only = s.get("append_only", False)
    if not isinstance(append_only, bool):
        _fail(f"{key}.append_only", f"expected true or false, got {append_only}")
    strategy = s.get("strategy", "merge")
    if strategy not in STRATEGIES:
        _fail(f"{key}.strategy", f"expected one of {', '.join(STRATEGIES)}; got {strategy}")
    identifiers = _parse_column_types(f"{key}.identifiers", s.get("identifiers"), types)
    aliases = _parse_column_types(f"{key}.aliases", s.get("aliases"), types)
    pairs_raw = s.get("pairs") or []
    if not _is_list(pairs_raw):
        _fail(f"{key}.pairs", "expected a list of {type: column, value: column}")
    pairs = []
    for i, p in enumerate(pairs_raw):
        pkey = f"{key}.pairs[{i}]"
        _check_keys(pkey, p, ["type", "value"])
        pairs.append(
            Pair(
                _check_column(f"{pkey}.type", p.get("type")),
                _check_column(f"{pkey}.value", p.get("value")),
            )
        )
    if not identifiers and not pairs:
        _fail(key, "a source needs at least one of `identifiers` or `pairs`")
    traits = s.get("traits") or []
    if not _is_list(traits):
        _fail(f"{key}.traits", "expected a list of column names")
    for i, t in enumerate(traits):
        _check_column(f"{key}.traits[{i}]", t)
    return Source(
        name=name,
        event_id=event_id,
        occurred_at=occurred_at,
        source=s.get("source"),
        ref=s.get("ref"),
        strategy=strategy,
        identifiers=identifiers,
        aliases=aliases,
        pairs=tuple(pairs),
        traits=tuple(traits),
        loaded_at=loaded_at,
        append_only=append_only,
    )


def parse_config(raw: Any) -> Config:
    """Validate the ``idstitch`` var and fill in its defaults."""
    if raw is None:
        _fail("idstitch", "the var is not set; define `vars: idstitch:` in dbt_project.yml")
    _check_keys(
        "idstitch",
        raw,
        [
            "id_types",
            "blocked_values",
            "default_phone_country_code",
            "max_iterations",
            "max_resolution_rounds",
            "sources",
            "manual_merges",
            "never_merge",
            "erasures",
        ],
    )
    id_types_raw = raw.get("id_types")
    if not _is_list(id_types_raw) or not id_types_raw:
        _fail("idstitch.id_types", "expected a non-empty list of identifier types")
    types: dict[str, IdType] = {}
    for i, t in enumerate(id_types_raw):
        key = f"idstitch.id_types[{i}]"
        _check_keys(key, t, ["name", "limit", "normalize", "blocked_values", "shared_after"])
        name = _check_name(f"{key}.name", t.get("name"))
        if name in types:
            _fail(f"{key}.name", f"type `{name}` is listed twice")
        normalize = t.get("normalize", "none")
        if normalize not in NORMALIZE_RULES:
            _fail(f"{key}.normalize", f"expected one of email, phone, lower, none; got {normalize}")
        limit, limit_per = _parse_limit(f"{key}.limit", t.get("limit"))
        types[name] = IdType(
            name=name,
            priority=i + 1,
            normalize=normalize,
            limit=limit,
            limit_per=limit_per,
            blocked=_parse_blocked(f"{key}.blocked_values", t.get("blocked_values")),
            shared_after=t.get("shared_after") or {},
        )
    for i, t in enumerate(types.values()):
        key = f"idstitch.id_types[{i}].shared_after"
        if not isinstance(t.shared_after, Mapping):
            _fail(key, "expected a mapping {other_type: n}")
        for other, n in t.shared_after.items():
            if other not in types:
                _fail(f"{key}.{other}", f"unknown identifier type `{other}`")
            _check_positive_int(f"{key}.{other}", n)

    blocked = _parse_blocked("idstitch.blocked_values", raw.get("blocked_values"))
    cc = str(raw.get("default_phone_country_code", "1"))
    if not re.match(r"^[1-9][0-9]{0,2}$", cc):
        _fail(
            "idstitch.default_phone_country_code",
            f"expected 1 to 3 digits not starting with 0, got {cc}",
        )
    max_iterations = _check_positive_int("idstitch.max_iterations", raw.get("max_iterations", 64))
    max_resolution_rounds = _check_positive_int(
        "idstitch.max_resolution_rounds", raw.get("max_resolution_rounds", 10000)
    )

    sources_raw = raw.get("sources")
    if not _is_list(sources_raw) or not sources_raw:
        _fail("idstitch.sources", "expected a non-empty list of sources")
    sources: list[Source] = []
    for i, s in enumerate(sources_raw):
        key = f"idstitch.sources[{i}]"
        source = _parse_source(key, s, types)
        if source.name == MANUAL_MERGES_SOURCE:
            _fail(f"{key}.name", f"`{MANUAL_MERGES_SOURCE}` is reserved for the manual merges")
        if source.name in {x.name for x in sources}:
            _fail(f"{key}.name", f"source name `{source.name}` is used twice")
        sources.append(source)

    return Config(
        tuple(types.values()),
        blocked,
        cc,
        max_iterations,
        tuple(sources),
        max_resolution_rounds,
        manual_merges=_parse_relation(
            "idstitch.manual_merges", raw.get("manual_merges"), DEFAULT_MANUAL_MERGES
        ),
        never_merge=_parse_relation(
            "idstitch.never_merge", raw.get("never_merge"), DEFAULT_NEVER_MERGE
        ),
        erasures=_parse_relation("idstitch.erasures", raw.get("erasures"), DEFAULT_ERASURES),
    )


def manual_merges_source(config: Config) -> Source:
    """The manual merges (the var's `manual_merges` relation), read like a source of merge
    events (see the SQL twin)."""
    return Source(
        name=MANUAL_MERGES_SOURCE,
        source=config.manual_merges.source,
        ref=config.manual_merges.ref,
        event_id="merge_id",
        occurred_at="merged_at",
        strategy=MANUAL_STRATEGY,
        pairs=(Pair("id1_type", "id1_value"), Pair("id2_type", "id2_value")),
    )


def load_project_config(project_dir: Path) -> Config:
    """The ``idstitch`` var as set in ``dbt_project.yml``."""
    with open(project_dir / "dbt_project.yml") as f:
        project = yaml.safe_load(f)
    return parse_config((project.get("vars") or {}).get("idstitch"))
