-- The identity graph's edges: each (anchor, other identifier) link an event asked for, once per
-- distinct pair, with the evidence and whether any event applied it (else the first refusal).

with

decisions as (
    select * from {{ ref('int_idstitch__decisions') }}
    where decision in ('applied', 'skipped')
),

outcomes as (
    select * from {{ ref('int_idstitch__event_outcomes') }}
),

candidates as (
    select * from {{ ref('int_idstitch__candidate_nodes') }}
),

asks as (
    select
        decisions.anchor_key,
        decisions.node_key,
        decisions.decision,
        decisions.reason,
        decisions.event_rank,
        outcomes.occurred_at,
        outcomes.source
    from decisions
    inner join outcomes
        on decisions.event_rank = outcomes.event_rank
),

first_refusals as (
    select
        anchor_key,
        node_key,
        reason,
        row_number() over (partition by anchor_key, node_key order by event_rank) as refusal_order
    from asks
    where decision = 'skipped'
),

edges as (
    select
        anchor_key,
        node_key,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(*) as event_count,
        {{ idstitch_string_agg_distinct('source') }} as sources,
        max(case when decision = 'applied' then 1 else 0 end) as applied_flag
    from asks
    group by anchor_key, node_key
),

final as (
    select
        edges.anchor_key as node_key_1,
        edges.node_key as node_key_2,
        node_1.id_type as id1_type,
        node_1.id_value as id1_value,
        node_2.id_type as id2_type,
        node_2.id_value as id2_value,
        edges.first_seen_at,
        edges.last_seen_at,
        edges.event_count,
        edges.sources,
        edges.applied_flag = 1 as applied,
        case when edges.applied_flag = 0 then first_refusals.reason end as skip_reason
    from edges
    inner join candidates as node_1
        on edges.anchor_key = node_1.node_key
    inner join candidates as node_2
        on edges.node_key = node_2.node_key
    left join first_refusals
        on
            edges.anchor_key = first_refusals.anchor_key
            and edges.node_key = first_refusals.node_key
            and first_refusals.refusal_order = 1
)

select * from final
