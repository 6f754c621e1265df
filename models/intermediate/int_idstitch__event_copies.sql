-- Every distinct copy of every raw event ever read, with the run (batch_id) that first read it.
-- A full run reads all raw rows; an incremental run only the rows it has not seen: those loaded
-- at or after the source's watermark (its latest loaded_at so far), or every row of a source
-- without loaded_at, less the copies already here (by source, event_id, time and fingerprint).
-- has_earlier_copy tells that a copy of the same event (source, event_id) was here before the
-- run that read this one: only such an event can have copies outside this run's batches, so
-- int_idstitch__checked_events looks for older copies of those events alone.
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

{%- if not full %}

-- the known copies of the same event: the same source and event id, or, for a copy without an
-- event id, the same fingerprint (only an identical copy can match it then)
matches as (
    select
        copies.source,
        copies.event_id,
        copies.occurred_at,
        copies.has_raw_occurred_at,
        copies.fingerprint,
        max(case
            when
                copies.fingerprint = known.fingerprint
                and copies.has_raw_occurred_at = known.has_raw_occurred_at
                and copies.event_id is not distinct from known.event_id
                and copies.occurred_at is not distinct from known.occurred_at
                then 1
            else 0
        end) as is_known
    from copies
    inner join known
        on
            copies.source = known.source
            and (copies.event_id is null) = (known.event_id is null)
            and coalesce(copies.event_id, copies.fingerprint) = coalesce(known.event_id, known.fingerprint)
    group by copies.source, copies.event_id, copies.occurred_at, copies.has_raw_occurred_at, copies.fingerprint
),
{%- endif %}

final as (
    select
        copies.source,
        copies.event_id,
        copies.occurred_at,
        copies.has_raw_occurred_at,
        copies.fingerprint,
        copies.loaded_at,
        {%- if full %}
        false as has_earlier_copy,
        {%- else %}
        copies.event_id is not null and matches.source is not null as has_earlier_copy,
        {%- endif %}
        {{ idstitch_literal(idstitch_batch_id()) }} as batch_id
    from copies
    {% if not full -%}
    left join matches
        on
            copies.source = matches.source
            and copies.fingerprint = matches.fingerprint
            and copies.has_raw_occurred_at = matches.has_raw_occurred_at
            and copies.event_id is not distinct from matches.event_id
            and copies.occurred_at is not distinct from matches.occurred_at
    where coalesce(matches.is_known, 0) = 0
    {%- endif %}
)

-- in load-time order, as a loader appends raw rows: a check of the newest copies (rows deleted
-- upstream) then skips older blocks by their min/max
select * from final
order by loaded_at
