-- The identity graph's edges: each accepted event links its anchor (first identifier by
-- priority, then value) with each of its other identifiers. One row per distinct edge.

with

observations as (
    select * from {{ ref('int_idstitch__observations') }}
    where not is_alias
),

nodes as (
    select * from {{ ref('int_idstitch__nodes') }}
),

anchors as (
    select
        source,
        event_id,
        occurred_at,
        id_type,
        id_value
    from observations
    where id_position = 1
),

others as (
    select
        source,
        event_id,
        id_type,
        id_value
    from observations
    where id_position > 1
),

event_edges as (
    select
        anchors.source,
        anchors.event_id,
        anchors.occurred_at,
        anchors.id_type as id1_type,
        anchors.id_value as id1_value,
        others.id_type as id2_type,
        others.id_value as id2_value
    from anchors
    inner join others
        on
            anchors.source = others.source
            and anchors.event_id = others.event_id
),

edges as (
    select
        id1_type,
        id1_value,
        id2_type,
        id2_value,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(*) as event_count,
        {{ idstitch_string_agg_distinct('source') }} as sources
    from event_edges
    group by id1_type, id1_value, id2_type, id2_value
),

final as (
    select
        node_1.node_key as node_key_1,
        node_2.node_key as node_key_2,
        edges.id1_type,
        edges.id1_value,
        edges.id2_type,
        edges.id2_value,
        edges.first_seen_at,
        edges.last_seen_at,
        edges.event_count,
        edges.sources
    from edges
    inner join nodes as node_1
        on edges.id1_type = node_1.id_type and edges.id1_value = node_1.id_value
    inner join nodes as node_2
        on edges.id2_type = node_2.id_type and edges.id2_value = node_2.id_value
)

select * from final
