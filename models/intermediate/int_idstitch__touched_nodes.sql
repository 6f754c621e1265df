-- The values whose rows this run rewrites: every value the resolved events carry now or carried
-- before. `is_checked_value`: carried (now or before) by an event whose copies changed.

with

carried as (
    select
        id_type,
        id_value,
        priority,
        case when is_checked then 1 else 0 end as checked_flag
    from {{ ref('int_idstitch__observations') }}
    union all
    select
        id_type,
        id_value,
        priority,
        case when is_checked then 1 else 0 end as checked_flag
    from {{ ref('int_idstitch__working_observations') }}
    where is_resolved
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
