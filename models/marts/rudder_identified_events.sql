-- One row per accepted event with the profile it belongs to.
{{ config(materialized='idstitch_incremental', meta={'idstitch_delete': 'working_events'}) }}
-- published only once resolution is complete: a run that dies earlier leaves the marts alone
-- depends_on: {{ ref('int_idstitch__touched_profiles') }}

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
