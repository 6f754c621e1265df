-- The input of ordered resolution: per accepted event, its identifiers (role id) and aliases
-- (role alias) in order, as candidate node keys, with the event's strategy and time. Shared values
-- never link, so they are left out (docs/semantics.md §3a).

with

observations as (
    select * from {{ ref('int_idstitch__observations') }}
),

candidates as (
    select * from {{ ref('int_idstitch__candidate_nodes') }}
),

shared as (
    select distinct
        id_type,
        id_value
    from {{ ref('int_idstitch__shared_identifiers') }}
),

items as (
    select
        observations.event_rank,
        observations.strategy,
        case when observations.is_alias then 'alias' else 'id' end as role,
        observations.id_position as item_order,
        candidates.node_key,
        observations.id_type,
        observations.occurred_at
    from observations
    inner join candidates
        on observations.id_type = candidates.id_type and observations.id_value = candidates.id_value
    left join shared
        on observations.id_type = shared.id_type and observations.id_value = shared.id_value
    where shared.id_value is null
),

-- an event whose identifiers are all shared is not resolved (nor are its aliases)
resolvable_events as (
    select distinct event_rank
    from items
    where role = 'id'
),

final as (
    select items.*
    from items
    inner join resolvable_events
        on items.event_rank = resolvable_events.event_rank
)

select * from final
