{#-
    Invariant (nothing is lost): every input (source, event_id) is identified or rejected for a
    reason other than being a duplicate copy, and never both.
-#}
{% test idstitch_every_event_accounted_for(model, rejected, inputs) %}
with

input_events as (
    select distinct
        source,
        event_id
    from {{ inputs }}
    where event_id is not null
),

identified as (
    select
        source,
        event_id
    from {{ model }}
),

rejected as (
    select distinct
        source,
        event_id
    from {{ rejected }}
    where reason != 'duplicate_event_id' and event_id is not null
),

outcomes as (
    select
        input_events.source,
        input_events.event_id,
        case when identified.event_id is not null then 1 else 0 end as is_identified,
        case when rejected.event_id is not null then 1 else 0 end as is_rejected
    from input_events
    left join identified
        on input_events.source = identified.source and input_events.event_id = identified.event_id
    left join rejected
        on input_events.source = rejected.source and input_events.event_id = rejected.event_id
)

select *
from outcomes
where is_identified + is_rejected != 1
{% endtest %}
