-- The input of ordered resolution: per accepted event, its identifiers (role id) and aliases
-- (role alias) in order, as candidate node keys, with the event's strategy.

with

observations as (
    select * from {{ ref('int_idstitch__observations') }}
),

candidates as (
    select * from {{ ref('int_idstitch__candidate_nodes') }}
),

final as (
    select
        observations.event_rank,
        observations.strategy,
        case when observations.is_alias then 'alias' else 'id' end as role,
        observations.id_position as item_order,
        candidates.node_key,
        observations.id_type
    from observations
    inner join candidates
        on observations.id_type = candidates.id_type and observations.id_value = candidates.id_value
)

select * from final
