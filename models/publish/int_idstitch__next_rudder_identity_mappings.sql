-- The rows this run publishes to rudder_identity_mappings (see that model): every row in a full run, the
-- rows to insert in an incremental one. idstitch_batches publishes them with every other
-- table's in one transaction.
{{ config(materialized='idstitch_table') }}

with

node_profiles as (
    select * from {{ ref('int_idstitch__node_profiles') }}
),

final as (
    select
        rudder_id,
        id_type,
        id_value,
        is_shared,
        first_seen_at,
        last_seen_at,
        source_count,
        event_count
    from node_profiles
)

select * from final
