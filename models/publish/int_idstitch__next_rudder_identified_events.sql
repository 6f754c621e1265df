-- The rows this run publishes to rudder_identified_events (see that model): every row in a full run, the
-- rows to insert in an incremental one. idstitch_batches publishes them with every other
-- table's in one transaction.
{{ config(materialized='idstitch_table') }}

with

event_profiles as (
    select * from {{ ref('int_idstitch__event_profiles') }}
),

final as (
    select
        source,
        event_id,
        occurred_at,
        rudder_id
    from event_profiles
)

select * from final
