-- Every non-null identifier cell of every configured source, unpivoted to
-- (type, raw value): identifier columns, alias columns and merge-event type/value pairs;
-- also the two sides of every never-merge pair (source never_merge, event_id = pair_id).
-- An incremental run reads only the rows that may hold pending copies, and no never-merge pair
-- (changed never-merge pairs make a full run).
-- depends_on: {{ ref('int_idstitch__event_copies') }}
{%- set config = idstitch_config() %}
-- depends_on: {{ idstitch_source_relation(config['never_merge']) }}
{%- set cells = idstitch_identifier_cells(config) %}
{%- set full = idstitch_full_run() %}

with
{% for s in config['event_sources'] %}
{{ s['name'] }}__rows as (
    {{ idstitch_source_rows(s, pending_only=not full) | indent(4) }}
),
{% endfor %}

{%- if full %}

never_merge as (
    select * from {{ idstitch_source_relation(config['never_merge']) }}
),
{%- endif %}

cells as (
    {%- for cell in cells %}
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        {{ idstitch_literal(cell['role']) }} as role,
        {{ idstitch_literal(cell['column_name']) }} as column_name,
        {{ cell['id_type'] }} as id_type,
        {{ cell['value'] }} as raw_value
    from {{ cell['rows'] }}
    where {{ cell['value'] }} is not null
    {%- if full or not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- for side in ([1, 2] if full else []) %}
    select
        'never_merge' as source,
        {{ idstitch_to_string('pair_id') }} as event_id,
        cast(null as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(null as {{ dbt.type_string() }}) as fingerprint,
        'never_merge' as role,
        'id{{ side }}_value' as column_name,
        lower({{ idstitch_trim(idstitch_to_string('id' ~ side ~ '_type')) }}) as id_type,
        {{ idstitch_to_string('id' ~ side ~ '_value') }} as raw_value
    from never_merge
    where id{{ side }}_value is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from cells
