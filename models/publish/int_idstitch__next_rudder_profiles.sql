-- The rows this run publishes to rudder_profiles (see that model): every row in a full run, the
-- rows to insert in an incremental one. idstitch_batches publishes them with every other
-- table's in one transaction.
{{ config(materialized='idstitch_table') }}
{%- set config = idstitch_config() %}

with

node_profiles as (
    select node_profiles.*
    from {{ ref('int_idstitch__node_profiles') }} as node_profiles
    {% if not idstitch_full_run() -%}
    inner join {{ ref('int_idstitch__touched_profiles') }} as touched
        on node_profiles.rudder_id = touched.rudder_id
    {%- endif %}
),

event_traits as (
    select * from {{ ref('int_idstitch__event_traits') }}
),

profile_spans as (
    select
        rudder_id,
        count(*) as identifier_count,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from node_profiles
    group by rudder_id
),

ranked_identifiers as (
    select
        rudder_id,
        id_type,
        id_value,
        row_number() over (
            partition by rudder_id
            order by priority, first_seen_at, id_value
        ) as precedence
    from node_profiles
),

latest_traits as (
    select
        rudder_id,
        trait_name,
        trait_value,
        row_number() over (
            partition by rudder_id, trait_name
            order by event_rank desc
        ) as recency
    from event_traits
),

profile_traits as (
    select
        {%- for t in config['trait_names'] %}
        max(case when trait_name = {{ idstitch_literal(t) }} then trait_value end) as {{ adapter.quote(t) }},
        {%- endfor %}
        rudder_id
    from latest_traits
    where recency = 1
    group by rudder_id
),

final as (
    select
        profile_spans.rudder_id,
        ranked_identifiers.id_type as primary_id_type,
        ranked_identifiers.id_value as primary_id_value,
        profile_spans.identifier_count,
        {%- for t in config['trait_names'] %}
        profile_traits.{{ adapter.quote(t) }},
        {%- endfor %}
        profile_spans.first_seen_at,
        profile_spans.last_seen_at
    from profile_spans
    inner join ranked_identifiers
        on
            profile_spans.rudder_id = ranked_identifiers.rudder_id
            and ranked_identifiers.precedence = 1
    left join profile_traits
        on profile_spans.rudder_id = profile_traits.rudder_id
)

select * from final
