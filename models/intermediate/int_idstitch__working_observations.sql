-- The index rows of the events this run resolves again: in an incremental run, every event of a
-- partition the checked events (those with a new copy) can change, with is_checked when the
-- event is one of them. A partition is a component of the unconstrained graph (kept in
-- int_idstitch__observation_index); components resolve independently, so re-resolving whole
-- partitions gives what a full run gives. The models after this one read the old events' rows
-- here, not in the whole index. In a full run there are none.
-- Rows with `is_resolved` false are not resolved again: they are the index rows of the events
-- outside those partitions that carry a value of a checked event (a value shared before and
-- still shared), kept so that the shared values' statistics can be counted again without
-- another pass over the index (int_idstitch__shared_identifiers, int_idstitch__nodes).
-- A partition can change when a checked event carries one of its non-shared values, when it
-- held a checked event before, or when one of its values turns shared or stops being shared.
-- The events whose identifiers are all shared form one partition per first shared value.
{%- set full = idstitch_full_run() %}
{%- set index = idstitch_state_relation('int_idstitch__observation_index') %}
-- depends_on: {{ ref('int_idstitch__checked_events') }}
-- depends_on: {{ ref('int_idstitch__checked_observations') }}

with
{%- if full or index is none %}

final as (
    select
        observations.*,
        cast(null as {{ dbt.type_string() }}) as partition_id,
        true as is_checked,
        true as is_resolved
    from {{ ref('int_idstitch__checked_observations') }} as observations
    where 1 = 0
)
{%- else %}

checked_events as (
    select * from {{ ref('int_idstitch__checked_events') }}
),

checked as (
    select distinct
        source,
        event_id
    from checked_events
    where event_id is not null
),

-- only a checked event with a copy that a finished run read can have rows in the index: usually
-- few or none, so this lookup reads little of it
indexed_checked as (
    select distinct
        source,
        event_id
    from checked_events
    where event_id is not null and not ({{ idstitch_uncommitted('checked_events') }})
),

new_observations as (
    select * from {{ ref('int_idstitch__checked_observations') }}
),

old_observations as (
    select indexed.*
    from {{ index }} as indexed
    inner join indexed_checked
        on indexed.source = indexed_checked.source and indexed.event_id = indexed_checked.event_id
),

checked_values as (
    select distinct
        id_type,
        id_value
    from (
        select
            id_type,
            id_value
        from old_observations
        union all
        select
            id_type,
            id_value
        from new_observations
    ) as both_sides
),

-- the index rows of every event that carries a checked value: all that the shared status of
-- those values depends on (the events that carry a value, and their other values)
value_events as (
    select distinct
        indexed.source,
        indexed.event_id
    from {{ index }} as indexed
    inner join checked_values
        on indexed.id_type = checked_values.id_type and indexed.id_value = checked_values.id_value
),

value_observations as (
    select indexed.*
    from {{ index }} as indexed
    inner join value_events
        on indexed.source = value_events.source and indexed.event_id = value_events.event_id
),

global_observations as (
    select
        value_observations.source,
        value_observations.event_id,
        value_observations.id_type,
        value_observations.id_value
    from value_observations
    left join checked
        on value_observations.source = checked.source and value_observations.event_id = checked.event_id
    where checked.source is null
    union all
    select
        source,
        event_id,
        id_type,
        id_value
    from new_observations
),

shared_now as (
    select distinct
        id_type,
        id_value
    from (
        {{ idstitch_shared_sql('global_observations', 'checked_values') | indent(8) }}
    ) as rules
),

shared_before as (
    select distinct
        id_type,
        id_value
    from (
        {{ idstitch_shared_sql('value_observations', 'checked_values') | indent(8) }}
    ) as rules
),

value_status as (
    select
        checked_values.id_type,
        checked_values.id_value,
        shared_now.id_value is not null as is_shared_now,
        shared_before.id_value is not null as was_shared
    from checked_values
    left join shared_now
        on checked_values.id_type = shared_now.id_type and checked_values.id_value = shared_now.id_value
    left join shared_before
        on checked_values.id_type = shared_before.id_type and checked_values.id_value = shared_before.id_value
),

-- values whose partitions must be re-resolved: every non-shared one, and every change of status
linking_values as (
    select
        id_type,
        id_value
    from value_status
    where not (is_shared_now and was_shared)
),

partitions as (
    select partition_id from old_observations
    union all
    select value_observations.partition_id
    from value_observations
    inner join linking_values
        on value_observations.id_type = linking_values.id_type and value_observations.id_value = linking_values.id_value
    union all
    select {{ idstitch_shared_partition('id_type', 'id_value') }} as partition_id
    from value_status
    where is_shared_now
),

wanted_partitions as (
    select distinct partition_id
    from partitions
),

final as (
    select
        indexed.source,
        indexed.event_id,
        indexed.occurred_at,
        indexed.fingerprint,
        indexed.strategy,
        indexed.id_type,
        indexed.priority,
        indexed.id_value,
        indexed.is_alias,
        indexed.id_position,
        indexed.partition_id,
        checked.source is not null as is_checked,
        true as is_resolved
    from {{ index }} as indexed
    inner join wanted_partitions as wanted
        on indexed.partition_id = wanted.partition_id
    left join checked
        on indexed.source = checked.source and indexed.event_id = checked.event_id
    union all
    -- the other events that carry a checked value (a checked event's partition is always wanted)
    select
        carriers.source,
        carriers.event_id,
        carriers.occurred_at,
        carriers.fingerprint,
        carriers.strategy,
        carriers.id_type,
        carriers.priority,
        carriers.id_value,
        carriers.is_alias,
        carriers.id_position,
        carriers.partition_id,
        false as is_checked,
        false as is_resolved
    from value_observations as carriers
    left join wanted_partitions as wanted
        on carriers.partition_id = wanted.partition_id
    where wanted.partition_id is null
)
{%- endif %}

select * from final
