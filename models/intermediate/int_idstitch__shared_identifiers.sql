-- Shared identifiers (docs/semantics.md §3a), decided order-free before resolution: a value of type T
-- with `shared_after: {U: n}` is shared when the accepted events that carry it carry, between
-- them, more than n distinct values of type U (identifiers and aliases alike). Decided for the
-- values this run touches: counted again over every accepted event that carries one when an
-- event with a new copy carries it, and otherwise as already published (no event carrying it
-- changed, so neither did its count).
{%- set full = idstitch_full_run() %}
{%- set published = idstitch_state_relation('idstitch_shared_identifiers') %}

with

recount_observations as (
    {{ idstitch_recount_observations_sql() | indent(4) }}
),

touched as (
    select * from {{ ref('int_idstitch__touched_nodes') }}
),

recounted_values as (
    select
        id_type,
        id_value
    from touched
    {%- if not full %}
    where is_checked_value
    {%- endif %}
),

recounted as (
    {{ idstitch_shared_sql('recount_observations', 'recounted_values') | indent(4) }}
),

final as (
    select
        id_type,
        id_value,
        linked_type,
        distinct_linked
    from recounted
    {%- if not full %}
    union all
    select
        published.id_type,
        published.id_value,
        published.linked_type,
        published.distinct_linked
    from {{ published }} as published
    inner join touched
        on published.id_type = touched.id_type and published.id_value = touched.id_value
    where not touched.is_checked_value
    {%- endif %}
)

select * from final
