{#- Invariant: both ends of an applied merge rule are nodes of one and the same profile. -#}
{% test idstitch_applied_edges_share_rudder_id(model, mappings) %}
select
    rules.id1_type,
    rules.id1_value,
    rules.id2_type,
    rules.id2_value,
    end_1.rudder_id as rudder_id_1,
    end_2.rudder_id as rudder_id_2
from {{ model }} as rules
left join {{ mappings }} as end_1
    on rules.id1_type = end_1.id_type and rules.id1_value = end_1.id_value
left join {{ mappings }} as end_2
    on rules.id2_type = end_2.id_type and rules.id2_value = end_2.id_value
where
    rules.applied
    and (
        end_1.rudder_id is null
        or end_2.rudder_id is null
        or end_1.rudder_id != end_2.rudder_id
    )
{% endtest %}
