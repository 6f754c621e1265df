-- The profiles this run rewrites: before and after, those of the nodes it re-resolves, except
-- shared nodes no checked event carries (their profile cannot change, and not all the events
-- identified to it are resolved in this run).

with

touched as (
    select * from {{ ref('int_idstitch__touched_nodes') }}
),

shared as (
    select distinct
        id_type,
        id_value
    from {{ ref('int_idstitch__shared_identifiers') }}
),

in_scope as (
    select
        touched.id_type,
        touched.id_value
    from touched
    left join shared
        on touched.id_type = shared.id_type and touched.id_value = shared.id_value
    where shared.id_value is null or touched.is_checked_value
),

profile_ids as (
    select previous.rudder_id
    from {{ ref('int_idstitch__previous_mappings') }} as previous
    inner join in_scope
        on previous.id_type = in_scope.id_type and previous.id_value = in_scope.id_value
    union all
    select node_profiles.rudder_id
    from {{ ref('int_idstitch__node_profiles') }} as node_profiles
    inner join in_scope
        on node_profiles.id_type = in_scope.id_type and node_profiles.id_value = in_scope.id_value
),

final as (
    select distinct rudder_id
    from profile_ids
)

select * from final
