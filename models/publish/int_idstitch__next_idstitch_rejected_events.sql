-- The rows this run publishes to idstitch_rejected_events (see that model): every row in a full run, the
-- rows to insert in an incremental one. idstitch_batches publishes them with every other
-- table's in one transaction.
{{ config(materialized='idstitch_table') }}

with

events as (
    select * from {{ ref('int_idstitch__events') }}
    where reject_reason is not null
),

outcomes as (
    select * from {{ ref('int_idstitch__event_outcomes') }}
    where event_rejection is not null
),

final as (
    select
        source,
        event_id,
        occurred_at,
        reject_reason as reason,
        fingerprint as copy_fingerprint
    from events
    union all
    select
        source,
        event_id,
        occurred_at,
        event_rejection as reason,
        fingerprint as copy_fingerprint
    from outcomes
)

select * from final
