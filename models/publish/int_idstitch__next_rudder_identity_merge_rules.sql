-- The rows this run publishes to rudder_identity_merge_rules (see that model): every row in a full run, the
-- rows to insert in an incremental one. idstitch_batches publishes them with every other
-- table's in one transaction.
{{ config(materialized='idstitch_table') }}

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
