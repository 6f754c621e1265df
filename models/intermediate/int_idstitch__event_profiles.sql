-- Each accepted event with the rudder_id it is identified to: the profile of its anchor.

with

observations as (
    select * from {{ ref('int_idstitch__observations') }}
    where not is_alias and id_position = 1
),

node_profiles as (
    select * from {{ ref('int_idstitch__node_profiles') }}
),

final as (
    select
        observations.source,
        observations.event_id,
        observations.occurred_at,
        observations.event_rank,
        node_profiles.rudder_id
    from observations
    inner join node_profiles
        on
            observations.id_type = node_profiles.id_type
            and observations.id_value = node_profiles.id_value
)

select * from final
