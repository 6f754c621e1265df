"""``idstitch init``: a first ``idstitch`` var, guessed from the columns of the raw tables.

The columns come from the target's catalog through the dbt adapter (the run-operation macro
``idstitch_list_columns`` logs one JSON line per table; a dbt event callback catches them), so
the same code reads DuckDB, Snowflake and BigQuery. The dbt sources come from the manifest.
Every guess is made from names and types only, never from the data, and is written next to
what it produced as a YAML comment, for a person to review.

The output is one YAML mapping with a single key, ``idstitch`` (see :func:`render`): it can be
pasted under ``vars:`` in ``dbt_project.yml`` or passed as is to ``--vars``. dbt sources that
are still to be declared follow it as a commented-out ``sources:`` block.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from idstitch.runner import DbtError, DbtProject

LIST_MACRO = "idstitch_list_columns"

# idstitch's own tables (marts, intermediate and staging models, seeds): never raw input
OUTPUT_PREFIXES = ("rudder_", "idstitch_", "int_idstitch__", "stg_idstitch__")

# the identifier types init knows, highest priority first, with their recommended settings
TYPE_ORDER = ("user_id", "email", "phone", "anonymous_id", "device_id")
_TYPE_SETTINGS: dict[str, tuple[dict[str, Any], str]] = {
    "user_id": (
        {"limit": 1},
        "your login id: one per person, so a second user id never joins a profile",
    ),
    "email": (
        {"normalize": "email", "limit": 3},
        "trimmed and lower-cased; at most 3 per person (work, personal, old)",
    ),
    "phone": (
        {"normalize": "phone", "limit": 3},
        "written as E.164 (+16505550123); at most 3 per person",
    ),
    "anonymous_id": (
        {"limit": {"count": 2, "per": "week"}},
        "cookies: a person has many over time, so only those seen in the last week count; "
        "a third browser in one week starts a profile of its own (raise `count` if your "
        "users often use more)",
    ),
    "device_id": (
        {"shared_after": {"user_id": 1}},
        "a device seen with more than one user id is shared (family computer, kiosk) "
        "and stops linking",
    ),
}
BLOCKED_EXACT = ["-1", "null", "none", "undefined", "nan", "anonymous", "0", "unknown"]
BLOCKED_PATTERNS = ["^[0-]*$"]

# column names, lower-case: how each identifier type is recognised. `best` is the type's own
# name (the best match when a table has two columns of a type), `known` other usual names,
# `words` the words that make any column name a candidate.
_ID_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "user_id": {
        "best": ("user_id",),
        "known": ("userid", "uid", "customer_id", "customerid", "member_id", "memberid",
                  "account_user_id", "login_id"),
        "suffixes": ("_user_id", "_userid", "_customer_id", "_member_id"),
        "words": (),
    },
    "email": {
        "best": ("email",),
        "known": ("email_address", "e_mail", "emailaddress"),
        "suffixes": (),
        "words": ("email",),
    },
    "phone": {
        "best": ("phone",),
        "known": ("phone_number", "phonenumber", "mobile", "mobile_phone", "mobile_number",
                  "cell", "cell_phone", "cellphone", "telephone", "msisdn"),
        "suffixes": (),
        "words": ("phone", "mobile"),
    },
    "anonymous_id": {
        "best": ("anonymous_id",),
        "known": ("anon_id", "anonymousid", "ajs_anonymous_id", "cookie_id", "cookie",
                  "visitor_id", "visitorid"),
        "suffixes": ("_anonymous_id", "_anon_id", "_cookie_id", "_visitor_id"),
        "words": ("anonymous", "anon", "cookie", "visitor"),
    },
    "device_id": {
        "best": ("device_id",),
        "known": ("deviceid", "idfa", "idfv", "gaid", "advertising_id", "android_id"),
        "suffixes": ("_device_id",),
        "words": ("device",),
    },
}  # fmt: skip
# words that make a column *about* an identifier rather than the identifier itself
_NOT_AN_ID = frozenset(
    (
        "verified", "confirmed", "opt", "optin", "opted", "consent", "subscribed",
        "unsubscribed", "status", "type", "types", "count", "domain", "os", "model", "brand",
        "manufacturer", "make", "name", "version", "category", "platform", "hash", "hashed",
        "md5", "sha", "sha1", "sha256", "valid", "is", "has", "flag", "bounced", "carrier",
        "country", "code", "ext", "extension", "at", "date", "time", "ts", "app",
    )
)  # fmt: skip
_EVENT_IDS = ("message_id", "event_id", "id")
_MORE_EVENT_IDS = ("messageid", "eventid", "uuid", "event_uuid")
_OCCURRED_AT = (
    "timestamp", "occurred_at", "sent_at", "event_time", "registered_at", "updated_at",
    "created_at", "original_timestamp", "event_timestamp", "received_at", "time", "ts",
)  # fmt: skip
_LOADED_AT = (
    "_loaded_at", "loaded_at", "_etl_loaded_at", "_fivetran_synced", "_airbyte_extracted_at",
    "_sdc_batched_at",
)  # fmt: skip
_TRAITS = frozenset(
    (
        "first_name", "last_name", "name", "full_name", "display_name", "company",
        "company_name", "title", "job_title", "city", "country", "state", "region",
        "postal_code", "zip", "zip_code", "address", "gender", "birthday", "date_of_birth",
        "language", "locale", "timezone", "plan", "industry", "website",
    )
)  # fmt: skip
_TRAIT_PREFIXES = ("context_traits_", "traits_")
_TABLE_PREFIXES = ("raw_", "src_")
_STRICT_WORDS = ("crm", "contacts", "contact")
_MANUAL_MERGES = ("merge_id", "merged_at", "id1_type", "id1_value", "id2_type", "id2_value")
_NEVER_MERGE = ("pair_id", "id1_type", "id1_value", "id2_type", "id2_value")
_RULES = (("manual_merges", _MANUAL_MERGES), ("never_merge", _NEVER_MERGE))
_YAML_WORDS = frozenset(("y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"))


class ScaffoldError(RuntimeError):
    """init could not produce a configuration (e.g. no table looks like an event source)."""


# --- what the warehouse holds ------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str

    @property
    def key(self) -> str:
        """The lower-case, underscore-separated form of the name, for matching."""
        return _snake(self.name)

    @property
    def is_time(self) -> bool:
        t = self.data_type.lower()
        return "timestamp" in t or "datetime" in t or t == "date"

    @property
    def can_hold_id(self) -> bool:
        """Not a time, a flag or a nested value."""
        t = self.data_type.lower()
        nested = ("struct", "array", "record", "json", "variant", "object", "map")
        return not (self.is_time or "bool" in t or any(w in t for w in nested))


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]

    @property
    def where(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)


@dataclass(frozen=True)
class DeclaredSource:
    """A table declared as a dbt source in the project."""

    source_name: str
    table_name: str
    schema: str
    identifier: str
    database: str | None = None
    path: str = ""


@dataclass(frozen=True)
class Warehouse:
    """What the adapter listed: the target, the schemas read and their tables."""

    target_type: str
    database: str | None
    target_schema: str
    schemas: tuple[str, ...]
    tables: tuple[Table, ...]
    outputs: tuple[str, ...] = ()  # schema.table of the idstitch outputs, not read


def scan(
    project: DbtProject, schemas: Sequence[str] = ()
) -> tuple[Warehouse, list[DeclaredSource]]:
    """List the tables and columns of the target (every schema, or `schemas`) and the project's
    dbt sources. Raises DbtError when dbt fails (e.g. the target cannot be reached)."""
    manifest = project.parse()
    lines = project.operation_lines(
        LIST_MACRO,
        {"schemas": list(schemas), "skip_prefixes": list(OUTPUT_PREFIXES)},
        manifest=manifest,
    )
    return read_lines(lines), declared_sources(manifest)


def read_lines(lines: Sequence[str]) -> Warehouse:
    """The warehouse as the macro's JSON lines describe it (the first line is the target)."""
    if not lines:
        raise DbtError(f"the macro {LIST_MACRO} reported nothing")
    head = json.loads(lines[0])
    target = head["target"]
    tables: list[Table] = []
    outputs: list[str] = []
    for line in lines[1:]:
        item = json.loads(line)
        if item.get("skipped"):
            outputs.append(f"{item['schema']}.{item['table']}")
            continue
        columns = tuple(Column(str(n), str(t or "")) for n, t in item["columns"])
        tables.append(Table(str(item["schema"]), str(item["table"]), columns))
    return Warehouse(
        target_type=str(target["type"]),
        database=target.get("database"),
        target_schema=str(target["schema"]),
        schemas=tuple(head["schemas"]),
        tables=tuple(tables),
        outputs=tuple(outputs),
    )


def declared_sources(manifest: Any) -> list[DeclaredSource]:
    """The dbt sources of the project, from its manifest."""
    return [
        DeclaredSource(
            source_name=node.source_name,
            table_name=node.name,
            schema=node.schema,
            identifier=node.identifier or node.name,
            database=node.database,
            path=node.original_file_path,
        )
        for node in manifest.sources.values()
    ]


# --- the guesses -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One guessed value (a column name, a strategy) and why it was guessed."""

    value: str
    why: str


@dataclass(frozen=True)
class IdColumn:
    column: str
    id_type: str
    why: str
    rank: int  # 0 the type's own name, 1 a usual name, 2 a word in the name


@dataclass(frozen=True)
class PairColumns:
    type_column: str
    value_column: str
    why: str


@dataclass
class Reference:
    """How the var names a raw table: a dbt source, declared already or to declare."""

    source_name: str
    table_name: str
    declared_in: str | None  # the file that declares it; None: still to declare

    @property
    def source(self) -> str:
        return f"{self.source_name}.{self.table_name}"


@dataclass
class SourceGuess:
    table: Table
    name: str
    ref: Reference
    event_id: Choice
    occurred_at: Choice
    strategy: Choice
    loaded_at: Choice | None = None
    identifiers: list[IdColumn] = field(default_factory=list)
    aliases: list[IdColumn] = field(default_factory=list)
    pairs: list[PairColumns] = field(default_factory=list)
    traits: list[Choice] = field(default_factory=list)


@dataclass
class RuleGuess:
    key: str  # manual_merges or never_merge
    table: Table
    ref: Reference
    why: str


@dataclass
class ToDeclare:
    """A dbt source block still to add to the user's models."""

    source_name: str
    schema: str
    tables: list[tuple[str, str]]  # (dbt table name, the table's name in the warehouse)
    existing: str | None = None  # a file that declares this source name for this schema


@dataclass
class Scaffold:
    warehouse: Warehouse
    id_types: list[str]
    sources: list[SourceGuess]
    rules: list[RuleGuess]
    skipped: list[tuple[str, str]]  # (schema.table, why)
    to_declare: list[ToDeclare]
    outputs: list[str] = field(default_factory=list)  # schema.table of idstitch's own tables

    def var(self) -> dict[str, Any]:
        """The guessed `idstitch` var as data (what :func:`render` writes, without comments)."""
        return {"idstitch": _var_body(self)}


def guess(warehouse: Warehouse, declared: Sequence[DeclaredSource] = ()) -> Scaffold:
    """Every guess about the tables; raises ScaffoldError when no table is an event source."""
    refs = _References(warehouse, declared)
    sources: list[SourceGuess] = []
    rules: list[RuleGuess] = []
    skipped: list[tuple[str, str]] = []
    outputs = list(warehouse.outputs)
    tables = sorted(warehouse.tables, key=lambda t: (t.schema.lower(), t.name.lower()))
    for table in tables:
        if table.name.lower().startswith(OUTPUT_PREFIXES):  # the macro skips them already
            outputs.append(table.where)
            continue
        rule = _rule_shape(table)
        if rule is not None:
            key, why = rule
            taken = next((r for r in rules if r.key == key), None)
            if taken is not None:
                skipped.append((table.where, f"a second {key} table; {taken.table.where} is used"))
            else:
                rules.append(RuleGuess(key, table, refs.of(table), why))
            continue
        guessed = _guess_source(table, refs)
        if isinstance(guessed, str):
            skipped.append((table.where, guessed))
        else:
            sources.append(guessed)
    if not sources:
        schemas = ", ".join(warehouse.schemas) or "(none)"
        raise ScaffoldError(
            f"no table in schemas {schemas} looks like a source of identifiers"
            + "".join(f"\n- {where}: {why}" for where, why in skipped)
        )
    _name_sources(sources)
    found = {c.id_type for s in sources for c in s.identifiers + s.aliases}
    id_types = [t for t in TYPE_ORDER if t in found]
    if not id_types:  # only merge pairs: their types are values, unknown here; offer them all
        id_types = list(TYPE_ORDER)
    used = [s.ref for s in sources] + [r.ref for r in rules]
    return Scaffold(
        warehouse, id_types, sources, rules, skipped, refs.to_declare(used), sorted(outputs)
    )


def _snake(name: str) -> str:
    """anonymousId, Anonymous-ID, ANONYMOUS_ID -> anonymous_id."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name) if not name.isupper() else name
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def _config_name(name: str) -> str:
    """A column or table name as the var writes it: upper-case names (Snowflake's unquoted
    spelling) in lower case, which the SQL macros quote back in upper case."""
    return name.lower() if name.isupper() else name


def _words(key: str) -> list[str]:
    return [w for w in key.split("_") if w]


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _table_key(table: Table) -> str:
    key = _snake(table.name)
    for prefix in _TABLE_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return key[len(prefix) :]
    return key


def _rule_shape(table: Table) -> tuple[str, str] | None:
    keys = {c.key for c in table.columns}
    for key, shape in _RULES:
        if keys in (set(shape), {*shape, "note"}):
            columns = ", ".join(shape)
            return key, (
                f"guessed: the columns of {table.where} are exactly those of a {key} table "
                f"({columns}[, note])"
            )
    return None


def match_id_type(column: Column) -> IdColumn | None:
    """The identifier type a column's name suggests, with why; None if none does."""
    if not column.can_hold_id:
        return None
    key = column.key
    words = _words(key)
    best: IdColumn | None = None
    for id_type in TYPE_ORDER:
        names = _ID_NAMES[id_type]
        name = column.name
        found: IdColumn | None = None
        if key in names["best"]:
            found = IdColumn(name, id_type, f'guessed: column "{name}" has the name of the type', 0)
        elif key in names["known"]:
            found = IdColumn(
                name, id_type, f'guessed: "{name}" is a usual name for a {id_type} column', 1
            )
        elif not _NOT_AN_ID.intersection(words):
            suffix = next((s for s in names["suffixes"] if key.endswith(s)), None)
            word = next((w for w in names["words"] if w in key), None)
            if suffix is not None:
                found = IdColumn(
                    name, id_type, f'guessed: column name "{name}" ends with "{suffix}"', 1
                )
            elif word is not None:
                found = IdColumn(
                    name, id_type, f'guessed: column name "{name}" contains "{word}"', 2
                )
        # the closest match wins; between equally close ones, the type of higher priority
        if found is not None and (best is None or found.rank < best.rank):
            best = found
    return best


def _pairs(table: Table) -> list[PairColumns]:
    """Merge-event pairs: a column with the word `type` and its twin with `value` instead."""
    keys = {c.key: c for c in table.columns}
    pairs = []
    for column in table.columns:
        words = _words(column.key)
        if "type" not in words:
            continue
        at = len(words) - 1 - words[::-1].index("type")
        twin = keys.get("_".join([*words[:at], "value", *words[at + 1 :]]))
        if twin is not None:
            pairs.append(
                PairColumns(
                    _config_name(column.name),
                    _config_name(twin.name),
                    f'guessed: "{column.name}" names the type of the identifier in '
                    f'"{twin.name}" (a merge pair)',
                )
            )
    return pairs


def _event_id(table: Table) -> Choice | None:
    noun = _table_key(table)
    by_noun = [f"{_singular(_words(noun)[-1])}_id", f"{_singular(noun)}_id"] if noun else []
    for key in dict.fromkeys([*_EVENT_IDS, *by_noun, *_MORE_EVENT_IDS]):
        column = table.column(key)
        if column is None:
            continue
        if key in _EVENT_IDS or key in _MORE_EVENT_IDS:
            why = f'guessed: "{column.name}" is a usual name for the id of an event'
        else:
            why = f'guessed: "{column.name}" is the id of one {key[:-3]} ({table.name})'
        return Choice(_config_name(column.name), why)
    return None


def _occurred_at(table: Table, loaded_at: Choice | None) -> Choice | None:
    not_time: Column | None = None
    for key in _OCCURRED_AT:
        column = table.column(key)
        if column is None:
            continue
        if column.is_time:
            return Choice(
                _config_name(column.name),
                f'guessed: "{column.name}" ({column.data_type}) is the first of the usual '
                "event-time names found",
            )
        not_time = not_time or column
    others = [
        c
        for c in table.columns
        if c.is_time and (loaded_at is None or _config_name(c.name) != loaded_at.value)
    ]
    if others:
        column = others[0]
        return Choice(
            _config_name(column.name),
            f'guessed: "{column.name}" is the first time column; check that it is when the '
            "event happened",
        )
    if not_time is not None:
        return Choice(
            _config_name(not_time.name),
            f'guessed: "{not_time.name}" is named like an event time but is of type '
            f"{not_time.data_type}; idstitch casts it, and rejects events whose time it "
            "cannot read",
        )
    return None


def _loaded_at(table: Table) -> Choice | None:
    for key in _LOADED_AT:
        column = table.column(key)
        if column is not None:
            typed = "" if column.is_time else f" (type {column.data_type}: check it is a time)"
            return Choice(
                _config_name(column.name),
                f'guessed: "{column.name}" is a usual name for the load time, for '
                f"incremental runs{typed}",
            )
    return None


def _strategy(table: Table) -> Choice:
    words = _words(_table_key(table))
    word = next((w for w in _STRICT_WORDS if w in words), None)
    if word is not None:
        return Choice(
            "strict",
            f'guessed: the table name says "{word}": curated one-person records, which must '
            "not bridge two existing profiles",
        )
    return Choice("merge", "the default: every identifier of an event links (within limits)")


def _traits(table: Table, taken: set[str]) -> list[Choice]:
    traits = []
    for column in table.columns:
        key = column.key
        bare = next((key[len(p) :] for p in _TRAIT_PREFIXES if key.startswith(p)), key)
        if bare in _TRAITS and column.name not in taken:
            traits.append(
                Choice(
                    _config_name(column.name),
                    f'guessed: "{column.name}" is a usual profile trait',
                )
            )
    return traits


def _guess_source(table: Table, refs: _References) -> SourceGuess | str:
    """An event source, or why the table is not one."""
    pairs = _pairs(table)
    in_pairs = {p.type_column for p in pairs} | {p.value_column for p in pairs}
    by_type: dict[str, list[IdColumn]] = {}
    for column in table.columns:
        if _config_name(column.name) in in_pairs:
            continue
        matched = match_id_type(column)
        if matched is not None:
            matched = IdColumn(
                _config_name(column.name), matched.id_type, matched.why, matched.rank
            )
            by_type.setdefault(matched.id_type, []).append(matched)
    columns = ", ".join(c.name for c in table.columns) or "none"
    if not by_type and not pairs:
        return f"no column looks like an identifier (columns: {columns})"
    event_id = _event_id(table)
    if event_id is None:
        return (
            "identifier columns but no event id column (message_id, event_id, id or "
            f"<table noun>_id; columns: {columns})"
        )
    loaded_at = _loaded_at(table)
    occurred_at = _occurred_at(table, loaded_at)
    if occurred_at is None:
        return f"identifier columns but no time column (columns: {columns})"
    identifiers: list[IdColumn] = []
    aliases: list[IdColumn] = []
    for matches in by_type.values():
        best = min(matches, key=lambda m: m.rank)  # the first of the closest matches
        for m in matches:
            if m is best:
                identifiers.append(m)
            else:
                aliases.append(
                    IdColumn(
                        m.column,
                        m.id_type,
                        f'{m.why}; "{best.column}" is the closer {m.id_type} match, so this '
                        "one is an alias (added when free, never links two profiles)",
                        m.rank,
                    )
                )
    order = {_config_name(c.name): i for i, c in enumerate(table.columns)}
    identifiers.sort(key=lambda m: order[m.column])
    aliases.sort(key=lambda m: order[m.column])
    taken = {m.column for m in identifiers + aliases} | in_pairs
    return SourceGuess(
        table=table,
        name=_table_key(table),
        ref=refs.of(table),
        event_id=event_id,
        occurred_at=occurred_at,
        strategy=_strategy(table),
        loaded_at=loaded_at,
        identifiers=identifiers,
        aliases=aliases,
        pairs=pairs,
        traits=_traits(table, taken),
    )


def _name_sources(sources: list[SourceGuess]) -> None:
    """Source names: the table's name without raw_/src_; made unique with the schema's name."""
    for s in sources:
        name = re.sub(r"^(?=[^a-z])", "t_", s.name) if s.name else "source"
        s.name = "manual_merges_events" if name == "manual_merges" else name
    counts: dict[str, int] = {}
    for s in sources:
        counts[s.name] = counts.get(s.name, 0) + 1
    for s in sources:
        if counts[s.name] > 1:
            s.name = f"{_snake(s.table.schema)}_{s.name}"


class _References:
    """Which dbt source each table is; invents sources for the tables not declared."""

    def __init__(self, warehouse: Warehouse, declared: Sequence[DeclaredSource]) -> None:
        self.warehouse = warehouse
        here = (warehouse.database or "").lower()
        # the sources of the scanned database (one declared in another is another table)
        self.declared = [
            d for d in declared if not (d.database and here) or d.database.lower() == here
        ]
        self.names = {d.source_name for d in declared}
        self.by_table = {(d.schema.lower(), d.identifier.lower()): d for d in self.declared}
        self.invented: dict[str, str] = {}  # schema -> source name

    def of(self, table: Table) -> Reference:
        d = self.by_table.get((table.schema.lower(), table.name.lower()))
        if d is not None:
            return Reference(d.source_name, d.table_name, d.path)
        return Reference(self.source_name(table.schema), _snake(table.name) or "t", None)

    def source_name(self, schema: str) -> str:
        """A declared source of this schema, else a new one named after the schema."""
        if schema not in self.invented:
            same = [d for d in self.declared if d.schema.lower() == schema.lower()]
            if same:
                self.invented[schema] = same[0].source_name
            else:
                taken = self.names | set(self.invented.values())
                name, n = _snake(schema) or "raw", 2
                while name in taken:
                    name, n = f"{_snake(schema)}_{n}", n + 1
                self.invented[schema] = name
        return self.invented[schema]

    def to_declare(self, used: Iterable[Reference]) -> list[ToDeclare]:
        blocks: dict[str, ToDeclare] = {}
        schema_of = {v: k for k, v in self.invented.items()}
        tables = {(t.schema, _snake(t.name) or "t"): t.name for t in self.warehouse.tables}
        for ref in used:
            if ref.declared_in is not None:
                continue
            schema = schema_of[ref.source_name]
            existing = next(
                (d.path for d in self.declared if d.source_name == ref.source_name), None
            )
            block = blocks.setdefault(
                ref.source_name, ToDeclare(ref.source_name, schema, [], existing)
            )
            block.tables.append((ref.table_name, tables.get((schema, ref.table_name), "")))
        return list(blocks.values())


# --- the YAML ----------------------------------------------------------------------------------


def _var_body(s: Scaffold) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id_types": [_id_type(t, s.id_types) for t in s.id_types],
        "blocked_values": {"exact": list(BLOCKED_EXACT), "patterns": list(BLOCKED_PATTERNS)},
        "default_phone_country_code": "1",
        "max_iterations": 64,
    }
    for r in s.rules:
        body[r.key] = {"source": r.ref.source}
    body["sources"] = [_source_body(g) for g in s.sources]
    return body


def _id_type(name: str, found: list[str]) -> dict[str, Any]:
    settings = dict(_TYPE_SETTINGS[name][0])
    shared = {k: v for k, v in settings.get("shared_after", {}).items() if k in found}
    if "shared_after" in settings:
        del settings["shared_after"]
        if shared:
            settings["shared_after"] = shared
    return {"name": name, **settings}


def _source_body(g: SourceGuess) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": g.name,
        "source": g.ref.source,
        "event_id": g.event_id.value,
        "occurred_at": g.occurred_at.value,
    }
    if g.loaded_at is not None:
        body["loaded_at"] = g.loaded_at.value
    body["strategy"] = g.strategy.value
    if g.identifiers:
        body["identifiers"] = {c.column: c.id_type for c in g.identifiers}
    if g.aliases:
        body["aliases"] = {c.column: c.id_type for c in g.aliases}
    if g.pairs:
        body["pairs"] = [{"type": p.type_column, "value": p.value_column} for p in g.pairs]
    if g.traits:
        body["traits"] = [t.value for t in g.traits]
    return body


def _q(value: Any) -> str:
    """A YAML scalar: plain when safe, else double-quoted (JSON's quoting is valid YAML)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)


def _flow(mapping: dict[str, Any]) -> str:
    parts = []
    for k, v in mapping.items():
        inner = _flow(v) if isinstance(v, dict) else _q(v)
        parts.append(f"{_q(k)}: {inner}")
    return "{" + ", ".join(parts) + "}"


def _comment(why: str) -> str:
    return "  # " + " ".join(why.split())


def render(s: Scaffold) -> str:
    """The guessed var as commented YAML: one mapping, `idstitch:`; then, as comments, the dbt
    sources still to declare and the tables skipped."""
    w = s.warehouse
    read = len(s.sources) + len(s.rules) + len(s.skipped)
    where = f"target {w.target_type}" + (f", database {w.database}" if w.database else "")
    out = [
        "# The idstitch var, guessed by `idstitch init` from the names and types of the columns",
        f"# of {read} tables in schemas {', '.join(w.schemas) or '(none)'} ({where}).",
        '# Review every "guessed:" comment: the guesses come from names, not from your data.',
        "# Paste it under `vars:` in dbt_project.yml, or use the file as it is:",
        '#   idstitch run --vars "$(cat idstitch.yml)"',
        "idstitch:",
        "  # identifier types, highest priority first: an event's highest-priority identifier",
        "  # anchors it. Only the types found in the columns below are listed.",
        "  id_types:",
    ]
    for t in s.id_types:
        why = _TYPE_SETTINGS[t][1]
        if t == "device_id" and "user_id" not in s.id_types:
            why = "no user id column was found, so no device can be told shared"
        out.append(f"    - {_flow(_id_type(t, s.id_types))}{_comment(why)}")
    out += [
        "  # placeholder values seen in real data: never identifiers (any type, after",
        "  # normalization; exact values compare case-insensitively)",
        "  blocked_values:",
        "    exact: [" + ", ".join(json.dumps(v) for v in BLOCKED_EXACT) + "]",
        "    patterns: ["
        + ", ".join(json.dumps(p) for p in BLOCKED_PATTERNS)
        + "]"
        + _comment("only zeros and dashes"),
        '  default_phone_country_code: "1"'
        + _comment("added to phone numbers without + or 00: set your market's"),
        "  max_iterations: 64" + _comment("cap on connected-components rounds"),
    ]
    for key, what in (("manual_merges", "unions decided by a person"),
                      ("never_merge", "pairs that must never share a profile")):  # fmt: skip
        rule = next((r for r in s.rules if r.key == key), None)
        if rule is None:
            out.append(f"  # {key} ({what}): no table of that shape was found;")
            out.append(f"  # the default is the project's empty seed idstitch_{key}.")
        else:
            out.append(f"  # {key}: {what}. {_declared_note(rule.ref)}")
            out.append(f"  {key}: {_flow({'source': rule.ref.source})}{_comment(rule.why)}")
    out.append("  sources:")
    for g in s.sources:
        out += _render_source(g)
    if s.skipped or s.outputs:
        out.append("  # tables not used:")
        for where_, why in s.skipped:
            out.append(f"  #   {where_}: {' '.join(why.split())}")
        if s.outputs:
            out.append(
                f"  #   {len(s.outputs)} tables that look like idstitch's own outputs "
                f"({', '.join(p + '*' for p in OUTPUT_PREFIXES)}): not read"
            )
    out += _render_to_declare(s.to_declare)
    return "\n".join(out) + "\n"


def _declared_note(ref: Reference) -> str:
    if ref.declared_in is not None:
        return f"(dbt source declared in {ref.declared_in})"
    return "(dbt source to declare: see the end of this file)"


def _render_source(g: SourceGuess) -> list[str]:
    out = [
        f"    - name: {_q(g.name)}"
        + _comment(f"table {g.table.where}, {len(g.table.columns)} columns"),
        f"      source: {_q(g.ref.source)}" + _comment(_declared_note(g.ref)),
        f"      event_id: {_q(g.event_id.value)}" + _comment(g.event_id.why),
        f"      occurred_at: {_q(g.occurred_at.value)}" + _comment(g.occurred_at.why),
    ]
    if g.loaded_at is not None:
        out.append(f"      loaded_at: {_q(g.loaded_at.value)}" + _comment(g.loaded_at.why))
    out.append(f"      strategy: {g.strategy.value}" + _comment(g.strategy.why))
    for key, columns in (("identifiers", g.identifiers), ("aliases", g.aliases)):
        if columns:
            out.append(f"      {key}:")
            out += [f"        {_q(c.column)}: {c.id_type}" + _comment(c.why) for c in columns]
    if g.pairs:
        out.append("      pairs:")
        for p in g.pairs:
            out.append(
                f"        - {_flow({'type': p.type_column, 'value': p.value_column})}"
                + _comment(p.why)
            )
    if g.traits:
        out.append("      traits:")
        out += [f"        - {_q(t.value)}" + _comment(t.why) for t in g.traits]
    return out


def _render_to_declare(blocks: list[ToDeclare]) -> list[str]:
    if not blocks:
        return []
    out = [
        "",
        "# " + "-" * 90,
        "# dbt sources to declare. The var above reads these tables as dbt sources, which the",
        "# project does not declare yet: copy the lines below, without their leading '# ', into",
        "# a YAML file under models/ (e.g. models/raw/_raw__sources.yml).",
    ]
    for b in blocks:
        if b.existing:
            out.append(
                f"# Source {b.source_name} is already declared for schema {b.schema} in "
                f"{b.existing}: you may instead add these tables to its `tables:` list."
            )
    out.append("# " + "-" * 90)
    out += ["# version: 2", "#", "# sources:"]
    for b in blocks:
        out += [
            f"#   - name: {_q(b.source_name)}",
            f"#     schema: {_q(b.schema)}",
            "#     tables:",
        ]
        for name, actual in b.tables:
            out.append(f"#       - name: {_q(name)}")
            if actual and _config_name(actual) != name:
                out.append(f"#         identifier: {_q(actual)}")
    return out


def init(project: DbtProject, schemas: Sequence[str] = ()) -> tuple[Scaffold, str]:
    """Scan the target, guess, and render: the scaffold and its YAML."""
    warehouse, declared = scan(project, schemas)
    scaffold = guess(warehouse, declared)
    return scaffold, render(scaffold)
