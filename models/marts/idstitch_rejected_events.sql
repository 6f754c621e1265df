-- One row per rejected event copy, with the reason it was rejected: by the checks on the
-- event itself, or by its source's strategy (strict).
{{ config(materialized='idstitch_incremental', meta={'idstitch_delete': 'rejected_events'}) }}
-- published only once resolution is complete: a run that dies earlier leaves the marts alone
-- depends_on: {{ ref('int_idstitch__touched_profiles') }}

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
