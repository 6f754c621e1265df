"""The synthetic data: deterministic per seed, the demo's columns, the mess it promises."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from idstitch.generate import RAW_SCHEMA, TABLES, TRUTH_COLUMN, write_csv, write_duckdb
from idstitch.normalize import normalize_value, trim

from streams import TABLES as DEMO_TABLES

PEOPLE = 300


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(path))
    try:
        return {t: con.execute(f"select * from {RAW_SCHEMA}.{t}").fetchall() for t in TABLES}
    finally:
        con.close()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("generate") / "g.duckdb"
    write_duckdb(path, PEOPLE, seed=5)
    return path


def test_tables_have_the_demo_columns_plus_truth(generated: Path) -> None:
    con = duckdb.connect(str(generated))
    try:
        for source, (table, columns) in DEMO_TABLES.items():
            if source in ("manual_merges", "never_merge"):
                continue  # the rule tables: no truth column
            got = [
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [RAW_SCHEMA, table],
                ).fetchall()
            ]
            assert got == [*columns, TRUTH_COLUMN], table
            assert con.execute(f"select count(*) from {RAW_SCHEMA}.{table}").fetchone()[0] > 0
    finally:
        con.close()


def test_same_seed_same_rows_other_seed_other_rows(generated: Path, tmp_path: Path) -> None:
    again, other = tmp_path / "again.duckdb", tmp_path / "other.duckdb"
    write_duckdb(again, PEOPLE, seed=5)
    write_duckdb(other, PEOPLE, seed=6)
    assert _rows(again) == _rows(generated)
    assert _rows(other) != _rows(generated)


def test_csv_output_matches_the_duckdb_output(generated: Path, tmp_path: Path) -> None:
    made = write_csv(tmp_path / "csv", PEOPLE, seed=5)
    con = duckdb.connect()
    try:
        for table, rows in _rows(generated).items():
            n = con.execute(
                f"select count(*) from read_csv('{tmp_path / 'csv' / table}.csv', header=true)"
            ).fetchone()[0]
            assert n == len(rows) == made.rows[table], table
    finally:
        con.close()


def test_spellings_vary_but_normalize_to_one_value_per_person(generated: Path) -> None:
    con = duckdb.connect(str(generated))
    try:
        emails = con.execute(
            f"""select {TRUTH_COLUMN}, email from {RAW_SCHEMA}.raw_webinar_leads
                where email is not null
                union all
                select {TRUTH_COLUMN}, context_traits_email from {RAW_SCHEMA}.raw_web_tracks
                where context_traits_email is not null"""
        ).fetchall()
        phones = con.execute(
            f"""select {TRUTH_COLUMN}, phone from {RAW_SCHEMA}.raw_app_events
                where phone is not null"""
        ).fetchall()
    finally:
        con.close()
    assert len({raw for _, raw in emails}) > len({raw.strip().lower() for _, raw in emails})
    placeholders = {"test@test.com", "noemail@example.com", "+15555555555", "+11234567890"}
    for rule, rows in (("email", emails), ("phone", phones)):
        by_person: dict[str, set[str]] = defaultdict(set)
        for person, raw in rows:
            value = normalize_value(rule, trim(raw), "1")
            if value not in placeholders:
                by_person[person].add(value)
        assert by_person, rule
        assert all(len(v) == 1 for v in by_person.values()), rule
    assert len({raw for _, raw in phones}) > len(phones) // 2  # six formats in use


def test_noise_zero_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "clean.duckdb"
    write_duckdb(path, PEOPLE, seed=5, noise=0)
    con = duckdb.connect(str(path))
    try:
        junk = con.execute(
            f"""select count(*) from {RAW_SCHEMA}.raw_web_tracks
                where message_id is null or timestamp is null
                   or user_id in ('-1', 'null', 'undefined', '0', 'anonymous', 'None', 'NaN')
                   or anonymous_id = 'undefined'"""
        ).fetchone()[0]
        kiosks = con.execute(
            f"select count(*) from {RAW_SCHEMA}.raw_app_events where device_id like 'kiosk-%'"
        ).fetchone()[0]
        retries = con.execute(
            f"""select count(*) from (select event_id from {RAW_SCHEMA}.raw_app_events
                group by event_id having count(*) > 1)"""
        ).fetchone()[0]
    finally:
        con.close()
    assert (junk, kiosks, retries) == (0, 0, 0)


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="people"):
        write_duckdb(tmp_path / "x.duckdb", 0, seed=1)
    with pytest.raises(ValueError, match="noise"):
        write_duckdb(tmp_path / "x.duckdb", 10, seed=1, noise=-1)
    with pytest.raises(ValueError, match="families"):
        write_duckdb(tmp_path / "x.duckdb", 10, seed=1, families=1.5)


def _values_of_several_people(path: Path, given: str) -> int:
    """How many values of the query `given` (value, person) more than one true person gives."""
    con = duckdb.connect(str(path))
    try:
        return int(
            con.execute(
                f"select count(*) from (select value from ({given}) as given where value is not "
                "null group by value having count(distinct person) > 1) as shared_values"
            ).fetchone()[0]
        )
    finally:
        con.close()


def test_families_share_a_tablet_and_an_email(generated: Path, tmp_path: Path) -> None:
    """In families mode, people of one household use one tablet and give one email, so the
    stitcher sees identifiers that several true people carry; without it, nobody shares them."""
    path = tmp_path / "families.duckdb"
    write_duckdb(path, PEOPLE, seed=5, families=0.5)
    tablets = f"""
        select device_id as value, {TRUTH_COLUMN} as person from {RAW_SCHEMA}.raw_app_events
        where device_id like 'tab-%'"""
    family_emails = f"""
        select lower(trim(email)) as value, {TRUTH_COLUMN} as person
        from {RAW_SCHEMA}.raw_webinar_leads where lower(trim(email)) like 'family%'
        union all
        select lower(trim(context_traits_email)), {TRUTH_COLUMN} from {RAW_SCHEMA}.raw_web_tracks
        where lower(trim(context_traits_email)) like 'family%'"""
    # the household of person pN is N // 3: a tablet or an email never leaves its household
    other_households = """
        select value, person // 3 as person from (
            select value, regexp_extract(person, '[0-9]+')::int as person from ({given})
        ) as numbered"""
    assert _values_of_several_people(path, tablets) > 0
    assert _values_of_several_people(path, family_emails) > 0
    for given in (tablets, family_emails):
        assert _values_of_several_people(path, other_households.format(given=given)) == 0
        assert _values_of_several_people(generated, given) == 0
