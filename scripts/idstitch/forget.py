"""`idstitch forget`: append an erasure request (docs/semantics.md §3c) to the configured
`erasures` relation, through the dbt adapter of the target.

The request names the value by its hash only (md5 of `type:normalized value`), so the request
log holds no personal data. When the relation is the project's own seed (`idstitch_erasures`,
the default), the row is also appended to the seed's CSV file, so that the next `dbt seed` or
`dbt build`, which replaces the seed's table with the file, keeps it.
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from idstitch.audit import project_config
from idstitch.config import Config
from idstitch.explain import ExplainError, parse_identifier
from idstitch.marts import AdapterMarts
from idstitch.reference import erasure_hash
from idstitch.runner import DbtError, DbtProject

ERASURE_COLUMNS = ("erasure_id", "requested_at", "id_type", "id_value", "id_hash", "scope")


class ForgetError(ValueError):
    """The request cannot be made: a malformed identifier, an unknown type, no relation."""


@dataclass
class Written:
    """What `forget` wrote: the request (without its value) and where it went."""

    erasure_id: str
    requested_at: datetime
    id_type: str
    id_hash: str
    scope: str
    relation: str  # as the target names it
    table_written: bool  # False: the relation does not exist yet (a seed not loaded)
    seed_file: Path | None  # the seed's CSV the row was appended to, if any


def request_row(
    config: Config, identifier: str, profile: bool, erasure_id: str | None, now: datetime
) -> dict[str, Any]:
    """The row of a request for `identifier` (TYPE:VALUE), normalized as the config says."""
    try:
        id_type, value = parse_identifier(identifier, config)
    except ExplainError as e:
        raise ForgetError(str(e)) from e
    if not value:
        raise ForgetError(f"`{identifier}` has no value after the type")
    return {
        "erasure_id": erasure_id or uuid.uuid4().hex,
        "requested_at": now.replace(microsecond=0),
        "id_type": id_type,
        "id_value": None,
        "id_hash": erasure_hash(id_type, value),
        "scope": "profile" if profile else "identifier",
    }


def _seed_header(path: Path) -> list[str]:
    """The header of the erasures seed's CSV, checked before anything is written."""
    with path.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f), None)
    if header is None or set(header) != set(ERASURE_COLUMNS):
        raise ForgetError(f"{path} does not have the columns {', '.join(ERASURE_COLUMNS)}")
    return header


def append_to_seed(path: Path, row: dict[str, Any]) -> None:
    """Append the row to a seed CSV (the header is the seed's; a null is an empty field)."""
    header = _seed_header(path)
    text = path.read_text(encoding="utf-8")
    with path.open("a", encoding="utf-8", newline="") as f:
        if text and not text.endswith("\n"):
            f.write("\n")
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["" if row[c] is None else _text(row[c]) for c in header])


def _text(value: Any) -> str:
    return value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)


def forget(
    project: DbtProject,
    identifier: str,
    *,
    profile: bool = False,
    erasure_id: str | None = None,
    now: datetime | None = None,
) -> Written:
    """Append one erasure request to the project's `erasures` relation (and to its seed's CSV
    when the relation is the project's seed). Raises ForgetError or DbtError."""
    config = project_config(project)
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    row = request_row(config, identifier, profile, erasure_id, now)
    manifest = project.parse()
    wanted = config.erasures
    node = project.node_of(manifest, wanted.source, wanted.ref)
    is_own_seed = node.resource_type == "seed" and node.package_name == "idstitch"
    seed_file = Path(node.root_path) / node.original_file_path if is_own_seed else None
    if seed_file is not None:
        _seed_header(seed_file)
    wh = AdapterMarts(project, manifest)
    try:
        relation = wh.raw_relation(node)
        exists = bool(wh.columns(relation))
        if not exists and not is_own_seed:
            raise ForgetError(
                f"the erasures relation {relation.label} does not exist on {wh.where}"
            )
        if exists:
            d = wh.dialect
            values = ", ".join(
                "null"
                if row[c] is None
                else (
                    f"cast({d.literal(_text(row[c]))} as timestamp)"
                    if c == "requested_at"
                    else d.literal(row[c])
                )
                for c in ERASURE_COLUMNS
            )
            wh.execute(
                f"insert into {relation.sql} ({', '.join(ERASURE_COLUMNS)}) values ({values})"
            )
    finally:
        wh.close()
    if seed_file is not None:
        append_to_seed(seed_file, row)
    return Written(
        erasure_id=row["erasure_id"],
        requested_at=row["requested_at"],
        id_type=row["id_type"],
        id_hash=row["id_hash"],
        scope=row["scope"],
        relation=relation.label,
        table_written=exists,
        seed_file=seed_file,
    )


__all__ = ["DbtError", "ForgetError", "Written", "forget", "request_row"]
