-- The events this run resolves: in a full run every accepted event; in an incremental run the
-- checked events (is_checked) and the other events of the partitions they can change (their
-- rows are int_idstitch__working_observations).

with

checked as (
    select distinct
        source,
        event_id
    from {{ ref('int_idstitch__checked_events') }}
    where event_id is not null
),

again as (
    select distinct
        source,
        event_id
    from {{ ref('int_idstitch__working_observations') }}
    where is_resolved and not is_checked
),

final as (
    select
        source,
        event_id,
        true as is_checked
    from checked
    union all
    select
        source,
        event_id,
        false as is_checked
    from again
)

select * from final
