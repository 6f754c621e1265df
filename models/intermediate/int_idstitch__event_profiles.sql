-- Each identified event (accepted, and not rejected by its strategy) with the rudder_id of
-- its anchor's profile.

with

outcomes as (
    select * from {{ ref('int_idstitch__event_outcomes') }}
    where event_rejection is null
),

node_profiles as (
    select * from {{ ref('int_idstitch__node_profiles') }}
),

final as (
    select
        outcomes.source,
        outcomes.event_id,
        outcomes.occurred_at,
        outcomes.event_rank,
        node_profiles.rudder_id
    from outcomes
    inner join node_profiles
        on outcomes.anchor_key = node_profiles.node_key
)

select * from final
