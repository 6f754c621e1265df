-- Non-null trait values (names, company, ...) of every configured source, one row per value,
-- kept from run to run: an incremental run adds those of the copies no finished run has taken
-- into account (and first drops those an unfinished run added).
{{ config(materialized='idstitch_incremental', meta={'idstitch_delete': 'uncommitted'}) }}
{%- set config = idstitch_config() %}
{%- set full = idstitch_full_run() %}
-- depends_on: {{ ref('int_idstitch__event_copies') }}
{%- set with_traits = config['sources'] | selectattr('traits') | list %}

with
{% for s in with_traits %}
{{ s['name'] }}__rows as (
    {{ idstitch_source_rows(s, pending_only=not full) | indent(4) }}
),
{% endfor %}

trait_values as (
    {%- for s in with_traits %}
    {%- set source_loop = loop %}
    {%- for t in s['traits'] %}
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        {{ idstitch_literal(t) }} as trait_name,
        {{ idstitch_source_column_alias(s, t) }} as trait_value
    from {{ s['name'] }}__rows
    where {{ idstitch_source_column_alias(s, t) }} is not null
    {%- if not (loop.last and source_loop.last) %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- endfor %}
    {%- if with_traits | length == 0 %}
    select
        cast(null as {{ dbt.type_string() }}) as source,
        cast(null as {{ dbt.type_string() }}) as event_id,
        cast(null as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(null as {{ dbt.type_string() }}) as fingerprint,
        cast(null as {{ dbt.type_string() }}) as trait_name,
        cast(null as {{ dbt.type_string() }}) as trait_value
    where 1 = 0
    {%- endif %}
),

final as (
    {{ idstitch_rows_of_pending_copies('trait_values', 'trait_values') | indent(4) }}
)

select * from final
