"""SQL == reference on seeded random streams and named scenarios, all in one dbt build."""

from __future__ import annotations

from collections import defaultdict

from idstitch.reference import rudder_id_of

from conftest import RANDOM_CASES, Build
from streams import CHAIN_HOPS, EVENT_ID, Stream
from warehouse import assert_matches_reference, connect, query


def test_sql_equals_reference(streams_build: Build) -> None:
    assert RANDOM_CASES >= 200
    expected = assert_matches_reference(
        streams_build.path, streams_build.config, streams_build.stream
    )
    # the comparison is not vacuous: every table has rows, every reason shows up
    assert len(expected.mappings) > 1000 and len(expected.merge_rules) > 1000
    assert len(expected.profiles) > 300 and len(expected.identified_events) > 1000
    reasons = {r for (_, _, _, r) in expected.rejected_events}
    assert reasons >= {
        "missing_event_id",
        "missing_occurred_at",
        "duplicate_event_id",
        "no_valid_identifier",
    }
    id_reasons = {r for (*_, r) in expected.rejected_identifiers}
    assert id_reasons >= {
        "blocked_value",
        "invalid_email",
        "invalid_phone",
        "too_long",
        "unknown_type",
    }


def test_named_scenarios(streams_build: Build) -> None:
    con = connect(streams_build.path)
    try:
        rows = query(con, "select id_type, id_value, rudder_id from rudder_identity_mappings")
    finally:
        con.close()
    rudder = {(t, v): rid for t, v, rid in rows}
    for scenario in streams_build.scenarios:
        nodes = set().union(*scenario.profiles)
        groups: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for node in nodes:
            assert node in rudder, f"{scenario.name}: {node} has no rudder_id"
            groups[rudder[node]].add(node)
        assert sorted(map(sorted, groups.values())) == sorted(map(sorted, scenario.profiles)), (
            f"{scenario.name}: wrong partition"
        )
        for profile, earliest in zip(scenario.profiles, scenario.earliest, strict=True):
            rid = rudder[next(iter(profile))]
            assert rid == rudder_id_of(earliest), f"{scenario.name}: rudder_id not from {earliest}"
        namespace = scenario.name if scenario.name == "long_chain" else None
        if namespace:
            assert len(nodes) == CHAIN_HOPS + 1


def test_duplicates_and_reobserved_edges(streams_build: Build) -> None:
    con = connect(streams_build.path)
    try:
        dup = query(
            con,
            """
            select reason, count(*) from idstitch_rejected_events
            where event_id = 's_dup_1' group by reason""",
        )
        identified = query(
            con, "select count(*) from rudder_identified_events where event_id = 's_dup_1'"
        )
        edge = query(
            con,
            """
            select event_count, sources from rudder_identity_merge_rules
            where id1_value = 's_reobs_u' and id2_value = 's_reobs_a'""",
        )
        self_pair = query(
            con,
            """
            select count(*) from rudder_identity_merge_rules
            where id1_value = 's_self@example.com' or id2_value = 's_self@example.com'""",
        )
    finally:
        con.close()
    assert dup == [("duplicate_event_id", 1)]
    assert identified == [(1,)]
    assert edge == [(3, "web_tracks")]
    assert self_pair == [(0,)]


def test_long_chain_converges_in_logarithmic_rounds(streams_build: Build) -> None:
    con = connect(streams_build.path)
    try:
        rounds = query(
            con,
            """
            select iteration, rows_changed, edges_remaining, nodes_active
            from idstitch_run_log
            where
                step = 'connected_components'
                and run_id = (select max_by(run_id, started_at) from idstitch_run_log)
            order by iteration""",
        )
    finally:
        con.close()
    assert rounds, "the run log has no iteration"
    assert [r[0] for r in rounds] == list(range(1, len(rounds) + 1))
    # a 5,000-hop chain needs 5,000 rounds of label propagation; contraction needs ~log2
    assert len(rounds) <= 20, f"{len(rounds)} rounds for a {CHAIN_HOPS}-hop chain"
    assert rounds[-1][2] == 0, "the last round must leave no edge"
    assert all(r[1] > 0 for r in rounds), "every round must contract something"


def test_nothing_lost(streams_build: Build) -> None:
    keys = _input_keys(streams_build.stream)
    con = connect(streams_build.path)
    try:
        identified = set(query(con, "select source, event_id from rudder_identified_events"))
        rejected = set(
            query(
                con,
                """
            select source, event_id from idstitch_rejected_events
            where reason != 'duplicate_event_id' and event_id is not null""",
            )
        )
    finally:
        con.close()
    assert not identified & rejected, "an event is both identified and rejected"
    assert keys == identified | rejected


def _input_keys(stream: Stream) -> set[tuple[str, str]]:
    keys = set()
    for source, rows in stream.rows.items():
        for row in rows:
            event_id = row[EVENT_ID[source]]
            if event_id is not None and event_id.strip(" \t\r\n"):
                keys.add((source, event_id.strip(" \t\r\n")))
    return keys
