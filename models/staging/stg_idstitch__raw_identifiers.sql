-- Every non-null identifier cell of every configured source, unpivoted to
-- (type, raw value): identifier columns, alias columns and merge-event type/value pairs.
{%- set config = idstitch_config() %}
{%- set cells = idstitch_identifier_cells(config) %}

with
{% for s in config['sources'] %}
{{ s['name'] }}__rows as (
    {{ idstitch_source_rows(s) | indent(4) }}
),
{% endfor %}

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
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from cells
