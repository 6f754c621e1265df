-- The valid identifiers and aliases of each accepted checked event (its winning copy), each
-- (type, value) once per event (a value given as both counts as an identifier), numbered in
-- priority order then by value, identifiers and aliases apart.

-- depends_on: {{ ref('stg_idstitch__identifiers') }}

with

events as (
    select * from {{ ref('int_idstitch__checked_events') }}
    where reject_reason is null
),

-- the staged identifiers of the checked copies, not those of every copy ever read
identifiers as (
    select * from (
        {{ idstitch_checked_identifiers_sql('events') | indent(8) }}
    ) as staged
    where reject_reason is null
),

event_identifiers as (
    select
        events.source,
        events.event_id,
        events.occurred_at,
        events.fingerprint,
        events.strategy,
        identifiers.id_type,
        identifiers.priority,
        identifiers.id_value,
        -- a value given both as identifier and as alias counts as an identifier
        min(case when identifiers.role = 'alias' then 1 else 0 end) as is_alias_flag
    from events
    inner join identifiers
        on
            events.source = identifiers.source
            and events.event_id = identifiers.event_id
            and events.occurred_at = identifiers.occurred_at
            and events.fingerprint = identifiers.fingerprint
    group by
        events.source,
        events.event_id,
        events.occurred_at,
        events.fingerprint,
        events.strategy,
        identifiers.id_type,
        identifiers.priority,
        identifiers.id_value
),

final as (
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        strategy,
        id_type,
        priority,
        id_value,
        is_alias_flag = 1 as is_alias,
        row_number() over (
            partition by source, event_id, is_alias_flag
            order by priority, id_value
        ) as id_position
    from event_identifiers
)

select * from final
