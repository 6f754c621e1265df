-- Trait values of accepted events, with the event's place in the global order and its profile.
-- Ephemeral: rudder_profiles, its one consumer, reads it as a CTE, so no table is written.
{{ config(materialized='ephemeral') }}

with

traits as (
    select * from {{ ref('stg_idstitch__traits') }}
),

events as (
    select * from {{ ref('int_idstitch__events') }}
    where reject_reason is null
),

event_profiles as (
    select * from {{ ref('int_idstitch__event_profiles') }}
),

final as (
    select
        event_profiles.rudder_id,
        events.event_rank,
        traits.trait_name,
        traits.trait_value
    from traits
    inner join events
        on
            traits.source = events.source
            and traits.event_id = events.event_id
            and traits.occurred_at = events.occurred_at
            and traits.fingerprint = events.fingerprint
    inner join event_profiles
        on
            events.source = event_profiles.source
            and events.event_id = event_profiles.event_id
)

select * from final
