-- One row per accepted event: its anchor, and the rejection its strategy gave it, if any.
-- An event whose identifiers are all shared is identified to the first of them (§3a).

with

decisions as (
    select * from {{ ref('int_idstitch__decisions') }}
),

events as (
    select * from {{ ref('int_idstitch__events') }}
    where reject_reason is null
),

shared_anchors as (
    select
        observations.event_rank,
        candidates.node_key,
        row_number() over (
            partition by observations.event_rank
            order by observations.priority, observations.id_value
        ) as shared_order
    from {{ ref('int_idstitch__observations') }} as observations
    inner join {{ ref('int_idstitch__shared_identifiers') }} as shared
        on observations.id_type = shared.id_type and observations.id_value = shared.id_value
    inner join {{ ref('int_idstitch__candidate_nodes') }} as candidates
        on observations.id_type = candidates.id_type and observations.id_value = candidates.id_value
    where not observations.is_alias
),

per_event as (
    select
        event_rank,
        max(anchor_key) as anchor_key,
        max(event_rejection) as event_rejection
    from decisions
    group by event_rank
),

final as (
    select
        events.source,
        events.event_id,
        events.occurred_at,
        events.fingerprint,
        events.event_rank,
        coalesce(per_event.anchor_key, shared_anchors.node_key) as anchor_key,
        per_event.event_rejection
    from events
    left join per_event
        on events.event_rank = per_event.event_rank
    left join shared_anchors
        on events.event_rank = shared_anchors.event_rank and shared_anchors.shared_order = 1
    where per_event.event_rank is not null or shared_anchors.node_key is not null
)

select * from final
