-- The identity graph's nodes: one row per (id_type, id_value) seen in an accepted event.
-- node_key numbers the nodes in (first_seen_at, type priority, value) order, so the smallest
-- node_key of a profile is its earliest node, the one its rudder_id is derived from.

with

observations as (
    select * from {{ ref('int_idstitch__observations') }}
    where not is_alias
),

nodes as (
    select
        id_type,
        id_value,
        priority,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(distinct source) as source_count,
        count(*) as event_count
    from observations
    group by id_type, id_value, priority
),

final as (
    select
        row_number() over (order by first_seen_at, priority, id_value) as node_key,
        id_type,
        id_value,
        priority,
        first_seen_at,
        last_seen_at,
        source_count,
        event_count
    from nodes
)

select * from final
