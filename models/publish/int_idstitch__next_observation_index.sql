-- The rows this run publishes to int_idstitch__observation_index (see that model): every row in a full run, the
-- rows to insert in an incremental one. idstitch_batches publishes them with every other
-- table's in one transaction.
{{ config(materialized='idstitch_table') }}
{%- set decisions = ref('int_idstitch__decisions') %}

with

observations as (
    select * from {{ ref('int_idstitch__observations') }}
),

items as (
    select * from {{ ref('int_idstitch__event_items') }}
),

outcomes as (
    select * from {{ ref('int_idstitch__event_outcomes') }}
),

candidates as (
    select * from {{ ref('int_idstitch__candidate_nodes') }}
),

comps as (
    select * from {{ decisions.incorporate(path={'identifier': decisions.identifier ~ '__comps'}) }}
),

component_roots as (
    select
        component_key,
        min(node_key) as root_key
    from comps
    group by component_key
),

event_components as (
    select
        items.event_rank,
        min(component_roots.root_key) as root_key
    from items
    inner join comps
        on items.node_key = comps.node_key
    inner join component_roots
        on comps.component_key = component_roots.component_key
    group by items.event_rank
),

partitions as (
    select
        outcomes.event_rank,
        case
            when event_components.root_key is not null
                then {{ idstitch_md5("roots.id_type || ':' || roots.id_value") }}
            else {{ idstitch_shared_partition('anchors.id_type', 'anchors.id_value') }}
        end as partition_id
    from outcomes
    left join event_components
        on outcomes.event_rank = event_components.event_rank
    left join candidates as roots
        on event_components.root_key = roots.node_key
    left join candidates as anchors
        on outcomes.anchor_key = anchors.node_key
),

final as (
    select
        observations.source,
        observations.event_id,
        observations.occurred_at,
        observations.fingerprint,
        observations.strategy,
        observations.id_type,
        observations.priority,
        observations.id_value,
        observations.is_alias,
        observations.id_position,
        partitions.partition_id
    from observations
    inner join partitions
        on observations.event_rank = partitions.event_rank
)

select * from final
