-- The events this run resolves, and the checked copies it rejects. Accepted events get their
-- place in the order (occurred_at, source, event_id) among the events of this run, which is
-- their order among all events (only the order matters), and their source's strategy; the
-- rest carry a reject reason. Events resolved again without new copies come from the index.
{%- set full = idstitch_full_run() %}
{%- set index = idstitch_state_relation('int_idstitch__observation_index') %}

with

checked as (
    select * from {{ ref('int_idstitch__checked_events') }}
),

accepted as (
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        strategy,
        true as is_checked
    from checked
    where reject_reason is null
    {%- if not full and index is not none %}
    union all
    select distinct
        indexed.source,
        indexed.event_id,
        indexed.occurred_at,
        indexed.fingerprint,
        indexed.strategy,
        false as is_checked
    from {{ index }} as indexed
    inner join {{ ref('int_idstitch__working_keys') }} as working
        on indexed.source = working.source and indexed.event_id = working.event_id
    where not working.is_checked
    {%- endif %}
),

final as (
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        cast(null as {{ dbt.type_string() }}) as reject_reason,
        row_number() over (order by occurred_at, source, event_id) as event_rank,
        strategy,
        is_checked
    from accepted
    union all
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        reject_reason,
        cast(null as {{ dbt.type_bigint() }}) as event_rank,
        cast(null as {{ dbt.type_string() }}) as strategy,
        true as is_checked
    from checked
    where reject_reason is not null
)

select * from final
