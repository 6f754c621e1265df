-- Every node with the rudder_id of its profile: md5(id_type || ':' || id_value) of the
-- profile's earliest node (smallest first_seen_at, then type priority, then value).

with

nodes as (
    select * from {{ ref('int_idstitch__nodes') }}
),

components as (
    select * from {{ ref('int_idstitch__components') }}
),

ranked as (
    select
        components.component_key,
        nodes.node_key,
        row_number() over (
            partition by components.component_key
            order by nodes.first_seen_at, nodes.priority, nodes.id_value
        ) as age_order
    from components
    inner join nodes
        on components.node_key = nodes.node_key
),

earliest as (
    select
        component_key,
        node_key as earliest_node_key
    from ranked
    where age_order = 1
),

profile_ids as (
    select
        earliest.component_key,
        {{ idstitch_md5("nodes.id_type || ':' || nodes.id_value") }} as rudder_id
    from earliest
    inner join nodes
        on earliest.earliest_node_key = nodes.node_key
),

final as (
    select
        nodes.node_key,
        nodes.id_type,
        nodes.id_value,
        nodes.priority,
        profile_ids.rudder_id,
        nodes.is_shared,
        nodes.first_seen_at,
        nodes.last_seen_at,
        nodes.source_count,
        nodes.event_count
    from nodes
    inner join components
        on nodes.node_key = components.node_key
    inner join profile_ids
        on components.component_key = profile_ids.component_key
)

select * from final
