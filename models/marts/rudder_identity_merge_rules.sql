-- One row per distinct edge of the identity graph, with the evidence behind it and whether
-- the union it asks for was applied.
{{ config(materialized='idstitch_incremental', meta={'idstitch_delete': 'touched_anchors'}) }}
-- published only once resolution is complete: a run that dies earlier leaves the marts alone
-- depends_on: {{ ref('int_idstitch__touched_profiles') }}

with

edges as (
    select * from {{ ref('int_idstitch__edges') }}
),

node_profiles as (
    select * from {{ ref('int_idstitch__node_profiles') }}
),

final as (
    select
        edges.id1_type,
        edges.id1_value,
        edges.id2_type,
        edges.id2_value,
        edges.first_seen_at,
        edges.last_seen_at,
        edges.event_count,
        edges.sources,
        edges.applied,
        edges.skip_reason,
        node_profiles.rudder_id
    from edges
    inner join node_profiles
        on edges.node_key_1 = node_profiles.node_key
)

select * from final
