-- Every distinct copy of every raw event ever read, with the run (batch_id) that first read it.
-- A full run reads all raw rows; an incremental run only the rows it has not seen: those loaded
-- at or after the source's watermark (its latest loaded_at so far), or every row of a source
-- without loaded_at, less the copies already here (by source, event_id, time and fingerprint).
{{ config(materialized='idstitch_incremental', meta={'idstitch_delete': 'nothing'}) }}
{%- set config = idstitch_config() %}
-- This model is the first to decide full vs incremental (idstitch_full_run), which hashes the
-- never-merge pairs: in `dbt build` their relation must be loaded before it.
-- depends_on: {{ idstitch_source_relation(config['never_merge']) }}
{%- set full = idstitch_full_run() %}
{#- the watermark of each source read by load time (idstitch_source_rows ignores it for the
    others): its latest loaded_at so far, as a literal, so the raw rows are filtered as they are
    scanned, before any fingerprint is computed (a source with no loaded copy yet is read whole) -#}
{%- set watermarks = {} if full else idstitch_copies_watermarks(this) %}
-- depends_on: {{ ref('stg_idstitch__events') }}

with

unseen as (
    {{ idstitch_source_events_sql(config, watermarks) | indent(4) }}
),
{%- if not full %}

known as (
    select * from {{ this }}
),
{%- endif %}

copies as (
    select
        source,
        event_id,
        occurred_at,
        has_raw_occurred_at,
        fingerprint,
        max(loaded_at) as loaded_at
    from unseen
    group by source, event_id, occurred_at, has_raw_occurred_at, fingerprint
),

final as (
    select
        copies.source,
        copies.event_id,
        copies.occurred_at,
        copies.has_raw_occurred_at,
        copies.fingerprint,
        copies.loaded_at,
        {{ idstitch_literal(idstitch_batch_id()) }} as batch_id
    from copies
    {% if not full -%}
    left join known
        on
            copies.source = known.source
            and copies.fingerprint = known.fingerprint
            and copies.has_raw_occurred_at = known.has_raw_occurred_at
            and copies.event_id is not distinct from known.event_id
            and copies.occurred_at is not distinct from known.occurred_at
    where known.source is null
    {%- endif %}
)

-- in load-time order, as a loader appends raw rows: a check of the newest copies (rows deleted
-- upstream) then skips older blocks by their min/max
select * from final
order by loaded_at
