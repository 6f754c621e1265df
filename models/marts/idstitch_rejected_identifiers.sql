-- One row per identifier value rejected in an event: invalid, too long, blocked or of an
-- unknown type. Identifiers are only checked for events that passed the event-level checks.
-- Values of the never-merge seed are checked too (source never_merge, event_id = pair_id), in
-- full runs (a changed seed makes a full run).
{{ config(materialized='idstitch_incremental', meta={'idstitch_delete': 'checked_events'}) }}
-- published only once resolution is complete: a run that dies earlier leaves the marts alone
-- depends_on: {{ ref('int_idstitch__touched_profiles') }}

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
