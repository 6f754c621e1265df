{#- The rows of idstitch_limit_violations / idstitch_skipped_aliases: decisions of one kind. -#}
{% macro idstitch_skips_sql(kind) %}
with

decisions as (
    select * from {{ ref('int_idstitch__decisions') }}
    where kind = {{ idstitch_literal(kind) }}
),

outcomes as (
    select * from {{ ref('int_idstitch__event_outcomes') }}
),

candidates as (
    select * from {{ ref('int_idstitch__candidate_nodes') }}
),

node_profiles as (
    select * from {{ ref('int_idstitch__node_profiles') }}
),

final as (
    select
        outcomes.source,
        outcomes.event_id,
        outcomes.occurred_at,
        candidates.id_type,
        candidates.id_value,
        node_profiles.rudder_id,
        decisions.reason,
        decisions.limit_type
    from decisions
    inner join outcomes
        on decisions.event_rank = outcomes.event_rank
    inner join candidates
        on decisions.node_key = candidates.node_key
    inner join node_profiles
        on decisions.anchor_key = node_profiles.node_key
)

select * from final
{% endmacro %}
