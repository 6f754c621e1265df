-- One row per accepted event with the profile it belongs to.

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
