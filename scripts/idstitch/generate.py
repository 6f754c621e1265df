"""`idstitch generate`: synthetic raw events for the demo's four sources, with ground truth.

Every row carries `true_person_id`, the person who really caused it. The stitcher never reads
that column (it is not configured), so `idstitch audit --truth true_person_id` can score the
stitching against it.

The data is generated inside DuckDB, set-based, so a million people take seconds rather than
the minutes a Python loop would need. Every random choice is a hash of (seed, what, whom), never
a random-number stream, so a seed gives the same rows whatever the thread count or row order.

What a person does (the rates are for `--noise 1`; noise scales every kind of mess):
- browses the web (85%) on one to three browsers; each browser holds one to three cookies
  (an `anonymous_id` each) over time, and half of the browsers also send a device id; a session
  ends with a sign-in (user id, often the email in some casing) when the person has an account;
- uses the app (45%) on one or two phones; signed-in app events carry the user id, the first
  carries email and phone (in one of six phone formats);
- is tied across web and app by a merge event (half of those who use both);
- appears on a webinar lead list (15%, plus 5% who are only leads) with only an email, only a
  phone, or both;
- noise: families sharing one computer (the same cookie for everyone), store kiosks where many
  people sign in, placeholder user ids that the demo blocks, placeholder emails and phones that it
  does not block (`test@test.com`, `555-555-5555`), retried (identical) events, events without
  an id or a time.
- families (`--families SHARE`, off by default): in that share of households (three people
  each) everyone who uses the app does it on the family's tablet, and half of the members'
  sign-ins and forms give the family's email. The tablet turns shared (the demo's rule: a device
  seen with a second user id), and the family email would join people who each have a user id
  (limit 1): rules bind in those households, as they do in real data where families share.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from idstitch.runner import DbtError, DbtProject

if TYPE_CHECKING:
    from idstitch.marts import AdapterMarts

RAW_SCHEMA = "idstitch_raw"
TRUTH_COLUMN = "true_person_id"
BASE_TIME = "2024-01-01 00:00:00"

FIRST_NAMES = [
    "Ana", "Ben", "Chloe", "Dev", "Elif", "Farah", "Gus", "Hana", "Ivan", "Jade",
    "Kofi", "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara",
    "Uma", "Victor", "Wen", "Xavi", "Yara", "Zoe", "Jane", "Marcus", "Luis", "Mei",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Garcia", "Chen", "Okafor", "Novak", "Silva", "Kim", "Patel", "Muller", "Rossi",
    "Khan", "Lee", "Dubois", "Sato", "Jensen", "Costa", "Ali", "Brown", "Ivanova", "Nguyen",
]  # fmt: skip
DOMAINS = ["example.com", "mail.test", "inbox.test", "northwind.test", "contoso.test"]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Contoso", "Northwind"]
# placeholders the demo config blocks, and ones it does not (they over-merge: audits flag them)
BLOCKED_PLACEHOLDERS = ["-1", "null", "undefined", "0", "anonymous", "None", "NaN"]
UNBLOCKED_EMAILS = ["test@test.com", "noemail@example.com"]
UNBLOCKED_PHONES = ["555-555-5555", "(123) 456-7890"]

# (table, columns) in the order of the demo seeds, each followed by the truth column
TABLES: dict[str, list[str]] = {
    "raw_web_tracks": [
        "message_id", "timestamp", "event", "anonymous_id", "user_id", "context_traits_email",
        "context_device_id", "first_name", "last_name",
    ],
    "raw_app_events": [
        "event_id", "sent_at", "event_name", "device_id", "user_id", "email", "phone",
        "first_name", "last_name",
    ],
    "raw_merge_events": [
        "message_id", "timestamp", "merge_type_1", "merge_value_1", "merge_type_2",
        "merge_value_2",
    ],
    "raw_webinar_leads": [
        "lead_id", "registered_at", "first_name", "last_name", "company", "email", "phone",
    ],
    "raw_crm_contacts": [
        "contact_id", "updated_at", "email", "phone", "mobile", "first_name", "last_name",
    ],
}  # fmt: skip
TIME_COLUMNS = {"timestamp", "sent_at", "registered_at", "updated_at"}
# the rule tables the demo var names: created empty (never replaced) so a generated file builds
RULE_SEEDS = {
    "raw_manual_merges": (
        "merge_id varchar, merged_at timestamp, id1_type varchar, id1_value varchar,"
        " id2_type varchar, id2_value varchar, note varchar"
    ),
    "raw_never_merge": (
        "pair_id varchar, id1_type varchar, id1_value varchar, id2_type varchar,"
        " id2_value varchar, note varchar"
    ),
}
EVENT_ID = {
    "raw_web_tracks": "message_id",
    "raw_app_events": "event_id",
    "raw_merge_events": "message_id",
    "raw_webinar_leads": "lead_id",
    "raw_crm_contacts": "contact_id",
}


@dataclass(frozen=True)
class Generated:
    people: int
    seed: int
    noise: float
    rows: dict[str, int]
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: list[str], key: str, salt: str) -> str:
    """A deterministic choice from a list literal, keyed by a hash."""
    return f"{_list(values)}[1 + (hash({key}, '{salt}', $seed) % {len(values)})::int]"


def _macros(seed: int) -> list[str]:
    # u(key, salt): a uniform number in [0, 1) fixed by (key, salt, seed)
    return [
        f"create or replace temp macro u(k, salt) as "
        f"(hash(k, salt, {seed}) % 1000003)::double / 1000003.0",
        "create or replace temp macro hex_of(k, salt, n) as "
        f"substr(md5(concat_ws(':', k::varchar, salt, '{seed}')), 1, n)",
        "create or replace temp macro anon_of(browser_key, cookie) as "
        "'anon-' || hex_of(browser_key || '/' || cookie::varchar, 'cookie', 12)",
        "create or replace temp macro app_device_of(p, d) as "
        "(case when u([p, d], 'os') < 0.55 then 'ios-' else 'and-' end) "
        "|| hex_of([p, d], 'app', 10)",
        # a person's app device d: a sharing family's members all use its tablet as device 0
        "create or replace temp macro device_of(p, d, household, family_shares) as "
        "case when d = 0 and family_shares then 'tab-' || hex_of(household, 'tablet', 10) "
        "else app_device_of(p, d) end",
        # the email a person gives at k: a sharing family's members give its email half the time
        "create or replace temp macro contact_email(e, k, noise, family_shares, family_email) as "
        "case when family_shares and u(k, 'family_email') < 0.5 then family_email "
        "else email_variant(e, k, noise) end",
        # a written email: as typed, shouted, capitalised or padded (all normalize the same)
        "create or replace temp macro email_variant(e, k, noise) as case "
        "when u(k, 'ecase') >= 0.3 * least(noise, 1) then e "
        "when u(k, 'ekind') < 0.34 then upper(e) "
        "when u(k, 'ekind') < 0.67 then upper(e[1]) || e[2:] "
        "else '  ' || e || ' ' end",
        # a written phone in one of six formats; all normalize to +1 and the ten digits
        "create or replace temp macro phone_variant(d, k) as "
        "[ '+1' || d, '+1 ' || d[1:3] || ' ' || d[4:6] || ' ' || d[7:], "
        "'(' || d[1:3] || ') ' || d[4:6] || '-' || d[7:], "
        "d[1:3] || '.' || d[4:6] || '.' || d[7:], '001' || d, d ]"
        "[1 + (hash(k, 'pfmt') % 6)::int]",
    ]


def _people_sql(people: int, noise: float, families: float) -> str:
    # a few people use each kiosk / unblocked placeholder, whatever the scale (at least 3 each
    # when there is noise), so small data sets show the problems too
    placeholder_stride = max(2, min(int(2000 / max(noise, 1e-9)), people // 3 or 2))
    kiosk_stride = max(2, min(int(500 / max(noise, 1e-9)), people // 5 or 2))
    kiosks = max(1, people // 2000)
    first = _pick(FIRST_NAMES, "p", "first")
    last = _pick(LAST_NAMES, "p", "last")
    domain = _pick(DOMAINS, "p", "domain")
    family_domain = _pick(DOMAINS, "household", "family_domain")
    noisy = "true" if noise > 0 else "false"
    return f"""
    create or replace temp table people as
    with base as (
        select
            range as p,
            range // 3 as household,
            u(range, 'leadonly') < 0.05 as lead_only,
            u(range, 'web') < 0.85 as web,
            u(range, 'app') < 0.45 as app,
            u(range, 'account') < 0.65 as has_account,
            u(range, 'lead') < 0.15 as lead,
            {noisy} and (range * 7919 + $seed) % {placeholder_stride} = 0 as fakes_contact,
            {first} as first_name,
            {last} as last_name,
            timestamp '{BASE_TIME}' + to_seconds((u(range, 'start') * 60 * 86400)::bigint)
                as started_at
        from range({people})
    )
    select
        p,
        household,
        'p' || p::varchar as person,
        web and not lead_only as web,
        app and not lead_only as app,
        has_account,
        -- people who type a fake email or phone do it on forms: they are all leads
        lead or lead_only or fakes_contact as lead,
        fakes_contact,
        first_name,
        last_name,
        started_at,
        'usr_' || hex_of(p, 'user', 12) as user_id,
        lower(first_name) || '.' || lower(last_name) || p::varchar || '@' || {domain} as email,
        -- p -> line number is one-to-one below ten million people (7654321 is prime to 10^7)
        (201 + hash(p, 'area', $seed) % 798)::varchar
            || lpad(((p * 7654321 + 1000003) % 10000000)::varchar, 7, '0') as phone_digits,
        {noisy} and (p * 7907 + $seed) % {kiosk_stride} = 1 as uses_kiosk,
        'kiosk-' || lpad((hash(p, 'kiosk', $seed) % {kiosks})::varchar, 4, '0') as kiosk,
        {noisy} and u(household, 'family') < 0.04 * {noise} as family_computer,
        u(household, 'family_shares') < {families} as family_shares,
        'family' || household::varchar || '@' || {family_domain} as family_email
    from base
    """


def _web_sql(noise: float) -> str:
    placeholder = _pick(BLOCKED_PLACEHOLDERS, "[p, b, c]", "uph")
    return f"""
    create or replace temp table web as
    with browsers as (
        select
            people.*,
            b,
            -- browser 0 of a family with a shared computer is that computer, for everyone
            case when b = 0 and family_computer then 'h' || household::varchar
                 else p::varchar || '.' || b::varchar end as browser_key,
            1 + (u([p, b], 'cookies') < 0.4)::int + (u([p, b], 'cookies2') < 0.15)::int
                as cookies
        from people, range(3) as t(b)
        where web and b < 1 + (u(p, 'browsers') < 0.35)::int + (u(p, 'browsers2') < 0.1)::int
    ),
    sessions as (
        select
            browsers.*,
            c,
            anon_of(browser_key, c) as anonymous_id,
            u(browser_key, 'sends_device') < 0.5 as sends_device,
            has_account and u([p, b, c], 'login') < 0.55 as signs_in,
            1 + (hash([p, b, c], 'events', $seed) % 6)::int as events,
            started_at + to_seconds((u([p, b, c], 'when') * 30 * 86400)::bigint) as session_at
        from browsers, range(3) as t(c)
        where c < cookies
    ),
    events as (
        select
            sessions.*,
            k,
            signs_in and k = events - 1 as is_sign_in
        from sessions, range(6) as t(k)
        where k < events
    )
    select
        'w' || p::varchar || '.' || b::varchar || '.' || c::varchar || '.' || k::varchar
            as message_id,
        session_at + to_seconds(k * (20 + hash([p, b, c, k], 'gap', $seed) % 280)) as timestamp,
        case when is_sign_in then 'signed_in' else 'page_viewed' end as event,
        case when u([p, b, c, k], 'anon_junk') < 0.01 * {noise} then 'undefined'
             else anonymous_id end as anonymous_id,
        case when not is_sign_in then null
             when u([p, b, c], 'uph_p') < 0.03 * {noise} then {placeholder}
             else user_id end as user_id,
        case when is_sign_in and u([p, b, c], 'with_email') < 0.7
             then contact_email(email, [p, b, c], {noise}, family_shares, family_email) end
            as context_traits_email,
        case when sends_device then 'web-' || hex_of(browser_key, 'browser', 10) end
            as context_device_id,
        case when is_sign_in then first_name end as first_name,
        case when is_sign_in then last_name end as last_name,
        person as {TRUTH_COLUMN}
    from events
    """


def _app_sql(noise: float) -> str:
    fake_phone = _pick(UNBLOCKED_PHONES, "p", "fphone")
    fake_email = _pick(UNBLOCKED_EMAILS, "p", "femail")
    return f"""
    create or replace temp table app as
    with devices as (
        select
            people.*,
            d,
            device_of(p, d, household, family_shares) as device_id,
            has_account and u([p, d], 'app_login') < 0.8 as signs_in,
            1 + (hash([p, d], 'events', $seed) % 8)::int as events,
            started_at + to_seconds((u([p, d], 'when') * 30 * 86400)::bigint) as first_at
        from people, range(2) as t(d)
        where app and d < 1 + (u(p, 'devices') < 0.3)::int
    ),
    events as (
        select devices.*, k from devices, range(8) as t(k) where k < events
    ),
    kiosk_visits as (
        select
            'k' || p::varchar as event_id,
            started_at + to_seconds(3600 * 24 * 3) as sent_at,
            'kiosk_checkin' as event_name,
            kiosk as device_id,
            case when has_account then user_id end as user_id,
            case when not has_account then email end as email,
            cast(null as varchar) as phone,
            first_name,
            last_name,
            person as {TRUTH_COLUMN}
        from people
        where uses_kiosk
    )
    select
        'a' || p::varchar || '.' || d::varchar || '.' || k::varchar as event_id,
        first_at + to_seconds(k * (60 + hash([p, d, k], 'gap', $seed) % 3600)) as sent_at,
        case when k = 1 and signs_in then 'signed_in' else 'app_opened' end as event_name,
        device_id,
        case when signs_in and k >= 1 then user_id end as user_id,
        case when signs_in and k = 1 and u([p, d], 'app_email') < 0.6 then
            case when fakes_contact then {fake_email}
                 else contact_email(email, [p, d], {noise}, family_shares, family_email) end
        end as email,
        case when signs_in and k = 1 and u([p, d], 'app_phone') < 0.5 then
            case when fakes_contact then {fake_phone}
                 else phone_variant(phone_digits, [p, d]) end
        end as phone,
        case when signs_in and k = 1 then first_name end as first_name,
        case when signs_in and k = 1 then last_name end as last_name,
        person as {TRUTH_COLUMN}
    from events
    union all
    select * from kiosk_visits
    """


def _merge_sql() -> str:
    anon_type = _pick(["anonymous_id", "Anonymous_Id", " anonymous_id"], "p", "t1")
    device_type = _pick(["device_id", "DEVICE_ID"], "p", "t2")
    return f"""
    create or replace temp table merges as
    select
        'm' || p::varchar as message_id,
        started_at + to_seconds(86400 * 7 + (hash(p, 'mgap', $seed) % 86400)) as timestamp,
        {anon_type} as merge_type_1,
        -- the person's first cookie of their first browser (a family's shared one included)
        anon_of(case when family_computer then 'h' || household::varchar
                     else p::varchar || '.0' end, 0) as merge_value_1,
        {device_type} as merge_type_2,
        device_of(p, 0, household, family_shares) as merge_value_2,
        person as {TRUTH_COLUMN}
    from people
    where web and app and u(p, 'merge') < 0.5
    """


def _leads_sql(noise: float) -> str:
    company = _pick(COMPANIES, "[p, r]", "company")
    fake_email = _pick(UNBLOCKED_EMAILS, "[p, r]", "lfemail")
    fake_phone = _pick(UNBLOCKED_PHONES, "[p, r]", "lfphone")
    return f"""
    create or replace temp table leads as
    with registrations as (
        select people.*, r, u([p, r], 'contact') as contact
        from people, range(2) as t(r)
        where lead and r < 1 + (u(p, 'second_lead') < 0.2)::int
    )
    select
        'l' || p::varchar || '.' || r::varchar as lead_id,
        started_at + to_seconds((u([p, r], 'lead_at') * 40 * 86400)::bigint) as registered_at,
        first_name,
        last_name,
        {company} as company,
        case when contact < 0.5 or contact >= 0.75 then
            case when fakes_contact then {fake_email}
                 else contact_email(email, [p, r], {noise}, family_shares, family_email) end
        end as email,
        case when contact >= 0.5 then
            case when fakes_contact then {fake_phone}
                 else phone_variant(phone_digits, [p, r]) end
        end as phone,
        person as {TRUTH_COLUMN}
    from registrations
    """


def _crm_sql(noise: float) -> str:
    """CRM contact updates for one person in ten: an email variant, often a phone."""
    return f"""
    create or replace temp table crm as
    select
        'c' || p::varchar as contact_id,
        started_at + to_seconds((u(p, 'crm_at') * 60 * 86400)::bigint) as updated_at,
        contact_email(email, [p, 7], {noise}, family_shares, family_email) as email,
        case when u(p, 'crm_phone') < 0.6 then phone_variant(phone_digits, [p, 7]) end as phone,
        cast(null as varchar) as mobile,
        first_name,
        last_name,
        person as {TRUTH_COLUMN}
    from people
    where u(p, 'crm') < 0.1
    """


def _noisy_copies_sql(table: str, event_id: str, time_column: str, noise: float) -> str:
    """The table's rows plus retried identical copies; a few lose their id or their time."""
    key = f"{event_id}"
    return f"""
    select * replace (
        case when u({key}, 'no_id') < 0.001 * {noise} then null else {event_id} end
            as {event_id},
        case when u({key}, 'no_time') < 0.001 * {noise} then null else {time_column} end
            as {time_column}
    )
    from (
        select * from {table}
        union all
        select * from {table} where u({key}, 'retry') < 0.01 * {noise}
    )
    """


def generate(
    con: duckdb.DuckDBPyConnection,
    people: int,
    seed: int,
    noise: float = 1.0,
    families: float = 0.0,
) -> dict[str, str]:
    """Create the four raw tables as temp tables in `con`; returns table -> select statement."""
    if people < 1:
        raise ValueError("--people must be at least 1")
    if noise < 0:
        raise ValueError("--noise must be 0 or more")
    if not 0 <= families <= 1:
        raise ValueError("--families must be a share between 0 and 1")
    statements = [
        *_macros(seed),
        _people_sql(people, noise, families),
        _web_sql(noise),
        _app_sql(noise),
        _merge_sql(),
        _leads_sql(noise),
        _crm_sql(noise),
    ]
    for sql in statements:
        con.execute(sql.replace("$seed", str(seed)))
    sources = {
        "raw_web_tracks": _noisy_copies_sql("web", "message_id", "timestamp", noise),
        "raw_app_events": _noisy_copies_sql("app", "event_id", "sent_at", noise),
        "raw_merge_events": "select * from merges",
        "raw_webinar_leads": "select * from leads",
        "raw_crm_contacts": "select * from crm",
    }
    out = {}
    for table, sql in sources.items():
        columns = ", ".join(f'"{c}"' for c in [*TABLES[table], TRUTH_COLUMN])
        order = ", ".join(f'"{c}"' for c in [*TABLES[table], TRUTH_COLUMN])
        out[table] = f"select {columns} from ({sql}) order by {order}"
    return out


def write_duckdb(
    path: Path,
    people: int,
    seed: int,
    noise: float = 1.0,
    schema: str = RAW_SCHEMA,
    families: float = 0.0,
) -> Generated:
    """Write the raw tables into `schema` of a DuckDB file (replacing them)."""
    started = time.perf_counter()
    con = duckdb.connect(str(path))
    try:
        selects = generate(con, people, seed, noise, families)
        con.execute(f"create schema if not exists {schema}")
        rows = {}
        for table, sql in selects.items():
            con.execute(f"create or replace table {schema}.{table} as {sql}")
            count = con.execute(f"select count(*) from {schema}.{table}").fetchone()
            rows[table] = int(count[0]) if count else 0
        for table, columns in RULE_SEEDS.items():
            con.execute(f"create table if not exists {schema}.{table} ({columns})")
        con.execute("checkpoint")
    finally:
        con.close()
    return Generated(people, seed, noise, rows, time.perf_counter() - started)


def write_csv(
    directory: Path, people: int, seed: int, noise: float = 1.0, families: float = 0.0
) -> Generated:
    """Write one CSV per raw table (with a header) into `directory`."""
    started = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        selects = generate(con, people, seed, noise, families)
        rows = {}
        for table, sql in selects.items():
            target = str(directory / f"{table}.csv").replace("'", "''")
            con.execute(f"copy ({sql}) to '{target}' (header, delimiter ',')")
            count = con.execute(f"select count(*) from ({sql})").fetchone()
            rows[table] = int(count[0]) if count else 0
    finally:
        con.close()
    return Generated(people, seed, noise, rows, time.perf_counter() - started)


def write_through(
    project: DbtProject, people: int, seed: int, noise: float = 1.0, families: float = 0.0
) -> Generated:
    """Write the raw tables where the demo's dbt sources read them on the project's target
    (Snowflake, BigQuery, DuckDB), through the dbt adapter: each table replaced, its rows
    inserted 500 at a time. The rule tables the demo var names are created empty if missing."""
    from idstitch.marts import AdapterMarts

    started = time.perf_counter()
    con = duckdb.connect()
    warehouse = AdapterMarts(project)
    try:
        sources = {
            node.name: node
            for node in warehouse.manifest.sources.values()
            if node.package_name == "idstitch" and node.source_name == "demo"
        }
        missing = [t for t in (*TABLES, *RULE_SEEDS) if t not in sources]
        if missing:
            raise DbtError(
                "the demo's dbt sources are not in this project (" + ", ".join(missing) + "): "
                "`idstitch generate --target` writes where the idstitch project's demo reads"
            )
        first = sources[next(iter(TABLES))]
        dialect = warehouse.dialect
        schema = warehouse.adapter.Relation.create(first.database, first.schema)
        warehouse.execute(f"create schema if not exists {schema}")
        selects = generate(con, people, seed, noise, families)
        rows = {}
        for table, sql in selects.items():
            columns = [*TABLES[table], TRUTH_COLUMN]
            data = con.execute(sql).fetchall()
            _create(warehouse, sources[table].relation_name, columns, replace=True)
            for start in range(0, len(data), 500):
                values = ", ".join(
                    "(" + ", ".join(_value(dialect.literal, v) for v in row) + ")"
                    for row in data[start : start + 500]
                )
                names = ", ".join(dialect.column(c) for c in columns)
                warehouse.execute(
                    f"insert into {sources[table].relation_name} ({names}) values {values}"
                )
            rows[table] = len(data)
        for table, spec in RULE_SEEDS.items():
            columns = [part.split()[0] for part in spec.split(",")]
            _create(warehouse, sources[table].relation_name, columns, replace=False)
    finally:
        warehouse.close()
        con.close()
    return Generated(people, seed, noise, rows, time.perf_counter() - started)


def _create(warehouse: AdapterMarts, relation: str, columns: list[str], *, replace: bool) -> None:
    """A raw table of text columns, the time columns as timestamps."""
    dialect = warehouse.dialect
    text = "string" if dialect.name == "bigquery" else "varchar"
    spec = ", ".join(
        f"{dialect.column(c)} {'timestamp' if c in TIME_COLUMNS or c == 'merged_at' else text}"
        for c in columns
    )
    verb = "create or replace table" if replace else "create table if not exists"
    warehouse.execute(f"{verb} {relation} ({spec})")


def _value(literal: Callable[[Any], str], value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return f"cast({literal(value.isoformat(sep=' '))} as timestamp)"
    return literal(value)
