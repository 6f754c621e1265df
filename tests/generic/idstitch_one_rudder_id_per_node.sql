{#- Invariant: every node (id_type, id_value) maps to exactly one non-null rudder_id. -#}
{% test idstitch_one_rudder_id_per_node(model) %}
select
    id_type,
    id_value,
    count(*) as mapping_rows,
    count(distinct rudder_id) as rudder_ids
from {{ model }}
group by id_type, id_value
having count(*) != 1 or count(rudder_id) != 1
{% endtest %}
