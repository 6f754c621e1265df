-- The rows this run publishes to idstitch_rejected_identifiers (see that model): every row in a full run, the
-- rows to insert in an incremental one. idstitch_batches publishes them with every other
-- table's in one transaction. An event rejected `erased` (it carries a value of an erased
-- profile, docs/semantics.md §3c) leaves a row, without its value, for each erased value it
-- carries, and none for its other values.
{{ config(materialized='idstitch_table') }}
{%- set profile_erasing = idstitch_profile_erasure_applies() %}
-- depends_on: {{ ref('int_idstitch__erased_profiles') }}
-- depends_on: {{ ref('stg_idstitch__identifiers') }}

with

identifiers as (
    select
        *,
        {%- if profile_erasing %}
        {{ idstitch_is_erased_sql(idstitch_md5("id_type || ':' || id_value"), 'profile') }} as is_profile_erased
        {%- else %}
        false as is_profile_erased
        {%- endif %}
    -- the staged identifiers of the checked copies, not those of every copy ever read
    from (
        {{ idstitch_checked_identifiers_sql(ref('int_idstitch__checked_events')) | indent(8) }}
    ) as staged
    where reject_reason is not null{% if profile_erasing %} or id_value is not null{% endif %}
),

checked_events as (
    select * from {{ ref('int_idstitch__events') }}
    where is_checked and (reject_reason is null or reject_reason in ('no_valid_identifier', 'erased'))
),

final as (
    select distinct
        identifiers.source,
        identifiers.event_id,
        identifiers.id_type,
        case when identifiers.is_profile_erased then null else identifiers.raw_value end as raw_value,
        case when identifiers.is_profile_erased then 'erased' else identifiers.reject_reason end as reason
    from identifiers
    inner join checked_events
        on
            identifiers.source = checked_events.source
            and identifiers.event_id = checked_events.event_id
            and identifiers.occurred_at = checked_events.occurred_at
            and identifiers.fingerprint = checked_events.fingerprint
    where
        (identifiers.reject_reason is not null or identifiers.is_profile_erased)
        and (checked_events.reject_reason is distinct from 'erased' or identifiers.reject_reason = 'erased' or identifiers.is_profile_erased)
    {%- if idstitch_full_run() %}
    union all
    select distinct
        source,
        event_id,
        id_type,
        case when is_profile_erased then null else raw_value end as raw_value,
        case when is_profile_erased then 'erased' else reject_reason end as reason
    from identifiers
    where role = 'never_merge' and (reject_reason is not null or is_profile_erased)
    {%- endif %}
)

select * from final
