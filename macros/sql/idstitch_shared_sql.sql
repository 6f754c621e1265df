{#-
    Shared identifiers (docs/semantics.md §3a) among `observations` (a relation or CTE with source,
    event_id, id_type, id_value: one row per identifier or alias of an accepted event): a value
    of type T with `shared_after: {U: n}` is shared when the events that carry it carry, between
    them, more than n distinct values of type U. With `values` (a relation or CTE of id_type,
    id_value), only those values are looked at. One row per shared value and rule:
    (id_type, id_value, linked_type, distinct_linked).
-#}
{% macro idstitch_shared_sql(observations, values=none) %}
    {%- set rules = [] -%}
    {%- for t in idstitch_config()['id_types'] -%}
        {%- for other, n in t['shared_after'].items() -%}
            {%- do rules.append({'type': t['name'], 'linked_type': other, 'n': n}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if rules | length == 0 %}
select
    cast(null as {{ dbt.type_string() }}) as id_type,
    cast(null as {{ dbt.type_string() }}) as id_value,
    cast(null as {{ dbt.type_string() }}) as linked_type,
    cast(null as {{ dbt.type_bigint() }}) as distinct_linked
where 1 = 0
    {%- endif %}
    {%- for rule in rules %}
select
    value_side.id_type,
    value_side.id_value,
    {{ idstitch_literal(rule['linked_type']) }} as linked_type,
    count(distinct other_side.id_value) as distinct_linked
from {{ observations }} as value_side
{%- if values is not none %}
inner join {{ values }} as wanted
    on value_side.id_type = wanted.id_type and value_side.id_value = wanted.id_value
{%- endif %}
inner join {{ observations }} as other_side
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
{% endmacro %}


{#- the partition of the events whose identifiers are all shared, by the first of them -#}
{% macro idstitch_shared_partition(id_type, id_value) %}
    {{- return(idstitch_md5("'shared:' || " ~ id_type ~ " || ':' || " ~ id_value)) -}}
{% endmacro %}


{#-
    Observations (source, event_id, occurred_at, id_type, id_value), as this run leaves them,
    that hold every accepted event carrying a value whose statistics the run counts again: the
    events it resolves (int_idstitch__observations) and the other events that carry a value of a
    checked event (int_idstitch__working_observations, not is_resolved). Those values are the
    ones an event with a new copy carries or carried (int_idstitch__touched_nodes,
    is_checked_value): no event carrying another value changed, so its statistics are those
    already published. In a full run, every accepted event.
-#}
{% macro idstitch_recount_observations_sql() %}
select
    source,
    event_id,
    occurred_at,
    id_type,
    id_value
from {{ ref('int_idstitch__observations') }}
union all
select
    source,
    event_id,
    occurred_at,
    id_type,
    id_value
from {{ ref('int_idstitch__working_observations') }}
where not is_resolved
{% endmacro %}
