-- The values whose rows this run rewrites: every value the resolved events carry now or carried
-- before. `is_checked_value`: carried (now or before) by an event whose copies changed.
{%- set full = idstitch_full_run() %}
{%- set index = idstitch_state_relation('int_idstitch__observation_index') %}

with

carried as (
    select
        id_type,
        id_value,
        priority,
        case when is_checked then 1 else 0 end as checked_flag
    from {{ ref('int_idstitch__observations') }}
    {%- if not full and index is not none %}
    union all
    select
        indexed.id_type,
        indexed.id_value,
        indexed.priority,
        case when working.is_checked then 1 else 0 end as checked_flag
    from {{ index }} as indexed
    inner join {{ ref('int_idstitch__working_keys') }} as working
        on indexed.source = working.source and indexed.event_id = working.event_id
    {%- endif %}
),

final as (
    select
        id_type,
        id_value,
        priority,
        max(checked_flag) = 1 as is_checked_value
    from carried
    group by id_type, id_value, priority
)

select * from final
