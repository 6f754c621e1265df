{#-
    The never-merge pairs of the staged never-merge rows (`identifiers`, stg_idstitch__identifiers)
    as pairs of node keys (node_a, node_b), the keys of `candidates` (a relation or subquery of
    id_type, id_value, node_key). A pair naming a value that is not a candidate (that no event
    offers) cannot bind and is left out; so is a side that was rejected or erased.
-#}
{% macro idstitch_never_merge_pairs_sql(identifiers, candidates) %}
with

sides as (
    select
        identifiers.event_id as pair_id,
        identifiers.column_name,
        candidates.node_key
    from {{ identifiers }} as identifiers
    inner join {{ candidates }} as candidates
        on identifiers.id_type = candidates.id_type and identifiers.id_value = candidates.id_value
    where identifiers.role = 'never_merge' and identifiers.reject_reason is null
),

final as (
    select distinct
        side_1.node_key as node_a,
        side_2.node_key as node_b
    from sides as side_1
    inner join sides as side_2
        on side_1.pair_id = side_2.pair_id
    where
        side_1.column_name = 'id1_value'
        and side_2.column_name = 'id2_value'
        and side_1.node_key != side_2.node_key
)

select * from final
{%- endmacro %}
