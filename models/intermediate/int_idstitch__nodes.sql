-- The identity graph's nodes: every candidate that an event created, with the time of that
-- event (first_seen_at) and the events that touched it since.

with

decisions as (
    select * from {{ ref('int_idstitch__decisions') }}
),

outcomes as (
    select * from {{ ref('int_idstitch__event_outcomes') }}
),

candidates as (
    select * from {{ ref('int_idstitch__candidate_nodes') }}
),

created as (
    select
        decisions.node_key,
        min(outcomes.occurred_at) as first_seen_at
    from decisions
    inner join outcomes
        on decisions.event_rank = outcomes.event_rank
    where decisions.created = 1
    group by decisions.node_key
),

touches as (
    select
        decisions.node_key,
        max(outcomes.occurred_at) as last_seen_at,
        count(distinct outcomes.source) as source_count,
        count(distinct decisions.event_rank) as event_count
    from decisions
    inner join outcomes
        on decisions.event_rank = outcomes.event_rank
    where decisions.touched = 1
    group by decisions.node_key
),

final as (
    select
        candidates.node_key,
        candidates.id_type,
        candidates.id_value,
        candidates.priority,
        created.first_seen_at,
        touches.last_seen_at,
        touches.source_count,
        touches.event_count
    from created
    inner join candidates
        on created.node_key = candidates.node_key
    inner join touches
        on created.node_key = touches.node_key
)

select * from final
