-- Identifier observations, trimmed, normalized (email, E.164 phone, lower) and validated.
-- A value that fails validation keeps its row with a reject_reason and a null id_value. A value
-- an erasure request forgets (docs/semantics.md §3c) keeps neither value: reason `erased`.
-- Kept from run to run: an incremental run adds the identifiers of the copies no finished run
-- has taken into account (and first drops those an unfinished run added).
{{ config(materialized='idstitch_incremental', meta={'idstitch_delete': 'uncommitted'}) }}
{%- set config = idstitch_config() %}
{%- set erasing = idstitch_erasing() %}
{%- set profile_erasing = idstitch_profile_erasing() %}
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

checked as (
    select
        typed.*,
        case
            when typed.priority is null then 'unknown_type'
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
        end as check_reason
    from typed
),
{%- if erasing %}

-- the values named by a request: one of scope identifier forgets the value here; one of scope
-- profile forgets it downstream, where resolution finds the profile's values, unless it is not
-- valid (then it is never a node, and is forgotten here)
erased as (
    select
        id_hash,
        max(case when scope = 'identifier' then 1 else 0 end) = 1 as is_forgotten_here,
        max(case when scope = 'profile' then 1 else 0 end) = 1 as is_profile_request
    from {{ ref('stg_idstitch__erasures') }}
    group by id_hash
),
{%- endif %}

validated as (
    select
        checked.*,
        {%- if profile_erasing %}
        -- a valid value a profile request names, even where a request of scope identifier
        -- forgets it here too: its event is rejected `erased` (int_idstitch__events)
        coalesce(
            erased.is_profile_request and checked.check_reason is null,
            false
        ) as carries_profile_request,
        {%- endif %}
        case
            when checked.check_reason = 'unknown_type' then checked.check_reason
            {%- if erasing %}
            when
                erased.is_forgotten_here
                or (erased.id_hash is not null and checked.check_reason is not null)
                then 'erased'
            {%- endif %}
            else checked.check_reason
        end as reject_reason
    from checked
    {% if erasing -%}
    left join erased
        on {{ idstitch_md5("checked.id_type || ':' || checked.normalized_value") }} = erased.id_hash
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
        {%- if profile_erasing %}
        carries_profile_request,
        {%- endif %}
        batch_id
    from validated
)

select * from final
