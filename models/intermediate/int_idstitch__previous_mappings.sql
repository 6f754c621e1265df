-- The published mapping of the nodes this run rewrites, as it stands before the run publishes
-- (in a full run, the whole published mapping, if any): what lineage and profiles compare to,
-- and the statistics of the shared values that no changed event carries (int_idstitch__nodes).
-- A forgotten value (docs/semantics.md §3c) is left out, and so is a node of a profile whose
-- id is the md5 id of a forgotten value: this table outlives the run.
{%- set full = idstitch_full_run() %}
{%- set erasing = idstitch_erasing() %}
-- depends_on: {{ ref('stg_idstitch__erasures') }}
-- depends_on: {{ ref('int_idstitch__erased_profiles') }}
{%- set published = idstitch_state_relation('rudder_identity_mappings') %}

with

{%- if published is none %}

final as (
    select
        cast(null as {{ dbt.type_string() }}) as id_type,
        cast(null as {{ dbt.type_string() }}) as id_value,
        cast(null as {{ dbt.type_string() }}) as rudder_id,
        cast(null as {{ dbt.type_boolean() }}) as is_shared,
        cast(null as {{ dbt.type_timestamp() }}) as first_seen_at,
        cast(null as {{ dbt.type_timestamp() }}) as last_seen_at,
        cast(null as {{ dbt.type_bigint() }}) as source_count,
        cast(null as {{ dbt.type_bigint() }}) as event_count
    where 1 = 0
)
{%- else %}

final as (
    select
        published.id_type,
        published.id_value,
        published.rudder_id,
        published.is_shared,
        published.first_seen_at,
        published.last_seen_at,
        published.source_count,
        published.event_count
    from {{ published }} as published
    {% if not full -%}
    inner join {{ ref('int_idstitch__touched_nodes') }} as touched
        on published.id_type = touched.id_type and published.id_value = touched.id_value
    {%- endif %}
    {%- if erasing %}
    where
        not {{ idstitch_is_erased_sql(idstitch_md5("published.id_type || ':' || published.id_value")) }}
        and not {{ idstitch_is_erased_sql('published.rudder_id') }}
    {%- endif %}
)
{%- endif %}

select * from final
