-- The valid identifiers and aliases of each event this run resolves, with its place in the
-- order: those of checked events as just computed, the others from their index rows
-- (int_idstitch__working_observations).

with

events as (
    select * from {{ ref('int_idstitch__events') }}
    where reject_reason is null
),

observations as (
    select
        source,
        event_id,
        strategy,
        id_type,
        priority,
        id_value,
        is_alias,
        id_position
    from {{ ref('int_idstitch__checked_observations') }}
    union all
    select
        source,
        event_id,
        strategy,
        id_type,
        priority,
        id_value,
        is_alias,
        id_position
    from {{ ref('int_idstitch__working_observations') }}
    where is_resolved and not is_checked
),

final as (
    select
        events.source,
        events.event_id,
        events.occurred_at,
        events.fingerprint,
        events.event_rank,
        observations.strategy,
        observations.id_type,
        observations.priority,
        observations.id_value,
        observations.is_alias,
        observations.id_position,
        events.is_checked
    from observations
    inner join events
        on observations.source = events.source and observations.event_id = events.event_id
)

select * from final
