-- Shared identifiers (CONTRACT §3a), decided order-free before resolution: a value of type T
-- with `shared_after: {U: n}` is shared when the accepted events that carry it carry, between
-- them, more than n distinct values of type U (identifiers and aliases alike).
{%- set config = idstitch_config() %}
{%- set rules = [] %}
{%- for t in config['id_types'] %}
{%- for other, n in t['shared_after'].items() %}
{%- do rules.append({'type': t['name'], 'linked_type': other, 'n': n}) %}
{%- endfor %}
{%- endfor %}

with

observations as (
    select * from {{ ref('int_idstitch__observations') }}
),

{%- if rules | length > 0 %}

linked as (
    {%- for rule in rules %}
    select
        value_side.id_type,
        value_side.id_value,
        {{ idstitch_literal(rule['linked_type']) }} as linked_type,
        count(distinct other_side.id_value) as distinct_linked
    from observations as value_side
    inner join observations as other_side
        on
            value_side.source = other_side.source
            and value_side.event_id = other_side.event_id
            and other_side.id_type = {{ idstitch_literal(rule['linked_type']) }}
            and not (value_side.id_type = other_side.id_type and value_side.id_value = other_side.id_value)
    where value_side.id_type = {{ idstitch_literal(rule['type']) }}
    group by value_side.id_type, value_side.id_value
    having count(distinct other_side.id_value) > {{ rule['n'] }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),
{%- else %}

linked as (
    select
        id_type,
        id_value,
        cast(null as {{ dbt.type_string() }}) as linked_type,
        cast(null as {{ dbt.type_bigint() }}) as distinct_linked
    from observations
    where 1 = 0
),
{%- endif %}

final as (
    select
        id_type,
        id_value,
        linked_type,
        distinct_linked
    from linked
)

select * from final
