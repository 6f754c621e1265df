-- The values to forget (docs/semantics.md §3c): one row per erasure request, the value as the
-- md5 of `id_type:normalized value` (given as id_hash, or computed from id_type and id_value,
-- normalized like any identifier of the type), and the request's scope. Holds no value itself.
-- The requests are checked when the run starts (idstitch_erasure_requests): a row that cannot
-- be applied fails the run.
{%- set config = idstitch_config() %}
{#- the relation may not exist yet (the project's seed before `dbt seed`): no requests then -#}
{%- set existing = idstitch_existing_relation(config['erasures']) if execute and flags.INTROSPECT else none %}
-- depends_on: {{ idstitch_source_relation(config['erasures']) }}

with

requests as (
    {%- if existing is not none %}
    select * from {{ existing }}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as erasure_id,
        cast(null as {{ dbt.type_string() }}) as id_type,
        cast(null as {{ dbt.type_string() }}) as id_value,
        cast(null as {{ dbt.type_string() }}) as id_hash,
        cast(null as {{ dbt.type_string() }}) as scope
    where 1 = 0
    {%- endif %}
),

id_types as (
    {{ idstitch_id_types_rows(config) | indent(4) }}
),

typed as (
    select
        {{ idstitch_to_string('requests.erasure_id') }} as erasure_id,
        lower({{ idstitch_trim(idstitch_to_string('requests.id_type')) }}) as id_type,
        {{ idstitch_trim(idstitch_to_string('requests.id_value')) }} as trimmed_value,
        lower({{ idstitch_trim(idstitch_to_string('requests.id_hash')) }}) as given_hash,
        coalesce(nullif(lower({{ idstitch_trim(idstitch_to_string('requests.scope')) }}), ''), 'identifier') as scope
    from requests
),

final as (
    select
        typed.erasure_id,
        coalesce(
            nullif(typed.given_hash, ''),
            {{ idstitch_md5("typed.id_type || ':' || " ~ idstitch_normalize_value('typed.trimmed_value', 'id_types.normalize_rule', config['default_phone_country_code'])) }}
        ) as id_hash,
        typed.scope
    from typed
    left join id_types
        on typed.id_type = id_types.id_type
)

select * from final
