-- Distinct copies of each (source, event_id) and the event-level checks. Identical copies
-- count once; of differing copies the first in (occurred_at, fingerprint) order is the event
-- and each later copy is a duplicate.

with

raw_events as (
    select * from {{ ref('stg_idstitch__events') }}
),

copies as (
    select distinct
        source,
        event_id,
        occurred_at,
        has_raw_occurred_at,
        fingerprint
    from raw_events
),

ranked as (
    select
        source,
        event_id,
        occurred_at,
        has_raw_occurred_at,
        fingerprint,
        case
            when event_id is not null
                then row_number() over (
                    partition by source, event_id
                    order by
                        case when occurred_at is null then 1 else 0 end,
                        occurred_at,
                        case when has_raw_occurred_at then 0 else 1 end,
                        fingerprint
                )
        end as copy_rank
    from copies
),

final as (
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        copy_rank,
        case
            when event_id is null then 'missing_event_id'
            when copy_rank > 1 then 'duplicate_event_id'
            when occurred_at is null and has_raw_occurred_at then 'invalid_occurred_at'
            when occurred_at is null then 'missing_occurred_at'
        end as reject_reason
    from ranked
)

select * from final
