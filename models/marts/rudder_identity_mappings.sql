-- One row per identity node: which profile (rudder_id) each identifier belongs to.

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
