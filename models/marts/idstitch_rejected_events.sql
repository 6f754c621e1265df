-- One row per rejected event copy, with the reason it was rejected.

with

events as (
    select * from {{ ref('int_idstitch__events') }}
    where reject_reason is not null
),

final as (
    select
        source,
        event_id,
        occurred_at,
        reject_reason as reason,
        fingerprint as copy_fingerprint
    from events
)

select * from final
