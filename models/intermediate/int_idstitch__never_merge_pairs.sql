-- The never-merge seed as pairs of candidate node keys (pairs naming a value that no event
-- offers cannot bind and are left out).

with

identifiers as (
    select * from {{ ref('stg_idstitch__identifiers') }}
    where role = 'never_merge' and reject_reason is null
),

candidates as (
    select * from {{ ref('int_idstitch__candidate_nodes') }}
),

sides as (
    select
        identifiers.event_id as pair_id,
        identifiers.column_name,
        candidates.node_key
    from identifiers
    inner join candidates
        on identifiers.id_type = candidates.id_type and identifiers.id_value = candidates.id_value
),

final as (
    select distinct
        side_1.node_key as node_a,
        side_2.node_key as node_b
    from sides as side_1
    inner join sides as side_2
        on side_1.pair_id = side_2.pair_id
    where
        side_1.column_name = 'id1_value'
        and side_2.column_name = 'id2_value'
        and side_1.node_key != side_2.node_key
)

select * from final
