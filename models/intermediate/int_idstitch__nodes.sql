-- The identity graph's nodes: every candidate that an event created, with the time of that
-- event (first_seen_at) and the events that touched it since; and every shared value, a node
-- of its own whose statistics count every accepted event that carried it (in any partition),
-- counted again when an event with a new copy carries it, and otherwise as already published.
{%- set full = idstitch_full_run() %}

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

shared_values as (
    select distinct
        id_type,
        id_value
    from {{ ref('int_idstitch__shared_identifiers') }}
),

recount_observations as (
    {{ idstitch_recount_observations_sql() | indent(4) }}
),

shared as (
    select
        candidates.node_key,
        min(observations.occurred_at) as first_seen_at,
        max(observations.occurred_at) as last_seen_at,
        count(distinct observations.source) as source_count,
        count(*) as event_count
    from recount_observations as observations
    inner join candidates
        on observations.id_type = candidates.id_type and observations.id_value = candidates.id_value
    inner join shared_values
        on observations.id_type = shared_values.id_type and observations.id_value = shared_values.id_value
    {%- if not full %}
    -- counted again when an event with a new copy carries the value
    where candidates.is_checked_value
    {%- endif %}
    group by candidates.node_key
    {%- if not full %}
    -- otherwise no event that carries it changed: its statistics as published
    union all
    select
        candidates.node_key,
        previous.first_seen_at,
        previous.last_seen_at,
        previous.source_count,
        previous.event_count
    from {{ ref('int_idstitch__previous_mappings') }} as previous
    inner join candidates
        on previous.id_type = candidates.id_type and previous.id_value = candidates.id_value
    inner join shared_values
        on previous.id_type = shared_values.id_type and previous.id_value = shared_values.id_value
    where not candidates.is_checked_value
    {%- endif %}
),

final as (
    select
        candidates.node_key,
        candidates.id_type,
        candidates.id_value,
        candidates.priority,
        false as is_shared,
        created.first_seen_at,
        touches.last_seen_at,
        touches.source_count,
        touches.event_count
    from created
    inner join candidates
        on created.node_key = candidates.node_key
    inner join touches
        on created.node_key = touches.node_key
    union all
    select
        candidates.node_key,
        candidates.id_type,
        candidates.id_value,
        candidates.priority,
        true as is_shared,
        shared.first_seen_at,
        shared.last_seen_at,
        shared.source_count,
        shared.event_count
    from shared
    inner join candidates
        on shared.node_key = candidates.node_key
)

select * from final
