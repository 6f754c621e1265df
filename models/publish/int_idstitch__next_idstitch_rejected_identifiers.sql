-- The rows this run publishes to idstitch_rejected_identifiers (see that model): every row in a full run, the
-- rows to insert in an incremental one. idstitch_batches publishes them with every other
-- table's in one transaction.
{{ config(materialized='idstitch_table') }}

with

identifiers as (
    select * from {{ ref('stg_idstitch__identifiers') }}
    where reject_reason is not null
),

checked_events as (
    select * from {{ ref('int_idstitch__events') }}
    where is_checked and (reject_reason is null or reject_reason = 'no_valid_identifier')
),

final as (
    select distinct
        identifiers.source,
        identifiers.event_id,
        identifiers.id_type,
        identifiers.raw_value,
        identifiers.reject_reason as reason
    from identifiers
    inner join checked_events
        on
            identifiers.source = checked_events.source
            and identifiers.event_id = checked_events.event_id
            and identifiers.occurred_at = checked_events.occurred_at
            and identifiers.fingerprint = checked_events.fingerprint
    {%- if idstitch_full_run() %}
    union all
    select distinct
        source,
        event_id,
        id_type,
        raw_value,
        reject_reason as reason
    from identifiers
    where role = 'never_merge'
    {%- endif %}
)

select * from final
