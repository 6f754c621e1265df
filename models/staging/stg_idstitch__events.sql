-- One row per raw row of every configured source: the event's key, its time and a
-- fingerprint of its configured columns. Deduplication happens downstream.
{%- set config = idstitch_config() %}

with
{% for s in config['event_sources'] %}
{{ s['name'] }}__rows as (
    {{ idstitch_source_rows(s) | indent(4) }}
),
{% endfor %}

all_rows as (
    {%- for s in config['event_sources'] %}
    select
        source,
        event_id,
        occurred_at,
        has_raw_occurred_at,
        loaded_at,
        fingerprint
    from {{ s['name'] }}__rows
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from all_rows
