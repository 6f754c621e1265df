-- Non-null trait values (names, company, ...) of every configured source, one row per value,
-- kept from run to run: an incremental run adds those of the copies no finished run has taken
-- into account (and first drops those an unfinished run added).
{{ config(materialized='idstitch_incremental', meta={'idstitch_delete': 'uncommitted'}) }}
{%- set config = idstitch_config() %}
{%- set full = idstitch_full_run() %}
{%- set copies = ref('int_idstitch__event_copies') %}
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
    select
        trait_values.*,
        {%- if full %}
        {{ idstitch_literal(idstitch_batch_id()) }} as batch_id
    from trait_values
        {%- else %}
        pending.batch_id
    from trait_values
    inner join {{ copies }} as pending
        on
            trait_values.source = pending.source
            and trait_values.event_id = pending.event_id
            and trait_values.occurred_at = pending.occurred_at
            and trait_values.fingerprint = pending.fingerprint
            and {{ idstitch_uncommitted('pending') }}
        {%- endif %}
)

select * from final
