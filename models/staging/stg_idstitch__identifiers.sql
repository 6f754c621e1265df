-- Identifier observations, trimmed, normalized (email, E.164 phone, lower) and validated.
-- A value that fails validation keeps its row with a reject_reason and a null id_value. A value
-- an erasure request forgets (docs/semantics.md §3c) keeps neither value: reason `erased`.
-- Kept from run to run: an incremental run adds the identifiers of the copies no finished run
-- has taken into account (and first drops those an unfinished run added).
{{ config(materialized='idstitch_incremental', meta={'idstitch_delete': 'uncommitted'}) }}
{%- set config = idstitch_config() %}
{%- set erasing = idstitch_erasure_requests()['rows'] | length > 0 %}
-- depends_on: {{ ref('int_idstitch__event_copies') }}
-- depends_on: {{ ref('stg_idstitch__erasures') }}

with

raw_identifiers as (
    {{ idstitch_rows_of_pending_copies(ref('stg_idstitch__raw_identifiers'), 'raw_identifiers') | indent(4) }}
),

id_types as (
    {{ idstitch_id_types_rows(config) | indent(4) }}
),

trimmed as (
    select
        raw_identifiers.source,
        raw_identifiers.event_id,
        raw_identifiers.occurred_at,
        raw_identifiers.fingerprint,
        raw_identifiers.role,
        raw_identifiers.column_name,
        raw_identifiers.id_type,
        raw_identifiers.raw_value,
        raw_identifiers.batch_id,
        {{ idstitch_trim('raw_identifiers.raw_value') }} as trimmed_value
    from raw_identifiers
),

typed as (
    select
        trimmed.*,
        id_types.priority,
        id_types.normalize_rule,
        {{ idstitch_normalize_value('trimmed.trimmed_value', 'id_types.normalize_rule', config['default_phone_country_code']) | indent(8) }} as normalized_value
    from trimmed
    left join id_types
        on trimmed.id_type = id_types.id_type
    -- blank means absent, not invalid
    where trimmed.trimmed_value != ''
),

{%- if erasing %}

-- the values forgotten by themselves; a request of scope profile is applied downstream, where
-- resolution finds the profile's values
erased as (
    select distinct id_hash
    from {{ ref('stg_idstitch__erasures') }}
    where scope = 'identifier'
),
{%- endif %}

validated as (
    select
        typed.*,
        case
            when typed.priority is null then 'unknown_type'
            {%- if erasing %}
            when erased.id_hash is not null then 'erased'
            {%- endif %}
            when length(typed.trimmed_value) > {{ idstitch_max_value_length() }} then 'too_long'
            when {{ idstitch_is_blocked('typed.normalized_value', 'typed.id_type', config) }} then 'blocked_value'
            when
                typed.normalize_rule = 'email'
                and not {{ idstitch_regex_contains('typed.normalized_value', idstitch_email_pattern()) }}
                then 'invalid_email'
            when
                typed.normalize_rule = 'phone'
                and not {{ idstitch_regex_contains('typed.normalized_value', idstitch_phone_pattern()) }}
                then 'invalid_phone'
        end as reject_reason
    from typed
    {%- if erasing %}
    left join erased
        on {{ idstitch_md5("typed.id_type || ':' || typed.normalized_value") }} = erased.id_hash
    {%- endif %}
),

final as (
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        role,
        column_name,
        id_type,
        priority,
        {%- if erasing %}
        case when reject_reason = 'erased' then null else raw_value end as raw_value,
        {%- else %}
        raw_value,
        {%- endif %}
        case when reject_reason is null then normalized_value end as id_value,
        reject_reason,
        batch_id
    from validated
)

select * from final
