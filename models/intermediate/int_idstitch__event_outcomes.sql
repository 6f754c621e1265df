-- One row per accepted event: its anchor, and the rejection its strategy gave it, if any.

with

decisions as (
    select * from {{ ref('int_idstitch__decisions') }}
),

events as (
    select * from {{ ref('int_idstitch__events') }}
    where reject_reason is null
),

per_event as (
    select
        event_rank,
        max(anchor_key) as anchor_key,
        max(event_rejection) as event_rejection
    from decisions
    group by event_rank
),

final as (
    select
        events.source,
        events.event_id,
        events.occurred_at,
        events.fingerprint,
        events.event_rank,
        per_event.anchor_key,
        per_event.event_rejection
    from events
    inner join per_event
        on events.event_rank = per_event.event_rank
)

select * from final
