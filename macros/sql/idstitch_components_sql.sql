{#-
    SQL of one round of randomized contraction, the connected-components algorithm behind
    idstitch (see macros/materializations/idstitch_components.sql for the loop).

    Every node is a whole number below 2^32. In round r each active node gets a pseudo-random
    key: a fresh seeded hash of the node in the high bits, the node itself in the low 32 bits,
    so keys are unique and a minimum is always well defined. Each node hooks to the node with
    the smallest key among itself and its neighbours; edges are then re-pointed to the hooks.
    On any graph the number of active nodes shrinks by a constant factor per round in
    expectation, so the rounds grow like log(n), whatever the graph's diameter.
-#}

{% macro idstitch_node_key_bound() %}{{ return(4294967296) }}{% endmacro %}


{#- the round's sort key of a node: hash(node, seed) in [0, 2^30) times 2^32, plus the node -#}
{% macro idstitch_round_key(node, seed) %}
    {{- return(adapter.dispatch('idstitch_round_key', 'idstitch')(node, seed)) -}}
{% endmacro %}

{% macro default__idstitch_round_key(node, seed) -%}
    (cast(mod(hash({{ node }}, {{ seed }}), 1073741824) as bigint) * {{ idstitch_node_key_bound() }} + {{ node }})
{%- endmacro %}

{% macro snowflake__idstitch_round_key(node, seed) -%}
    (bitand(hash({{ node }}, {{ seed }}), 1073741823) * {{ idstitch_node_key_bound() }} + {{ node }})
{%- endmacro %}

{% macro bigquery__idstitch_round_key(node, seed) -%}
    (mod(abs(farm_fingerprint(concat(cast({{ node }} as string), ':', cast({{ seed }} as string)))), 1073741824) * {{ idstitch_node_key_bound() }} + {{ node }})
{%- endmacro %}


{#- the distinct undirected edges (a < b) of a relation of node pairs, self-pairs dropped -#}
{% macro idstitch_cc_initial_edges_sql(pairs_sql) %}
select distinct
    least(node_a, node_b) as node_a,
    greatest(node_a, node_b) as node_b
from ({{ pairs_sql }}) as pairs
where node_a != node_b
{% endmacro %}


{#- every node that appears in a relation of node pairs -#}
{% macro idstitch_cc_nodes_sql(pairs_sql) %}
select distinct node
from (
    select node_a as node from ({{ pairs_sql }}) as pairs_a
    union all
    select node_b as node from ({{ pairs_sql }}) as pairs_b
) as endpoints
{% endmacro %}


{#- round r, step 1: each active node hooks to the smallest-keyed node of its closed neighbourhood -#}
{% macro idstitch_cc_hooks_sql(edges, seed) %}
with

endpoints as (
    select distinct node
    from (
        select node_a as node from {{ edges }}
        union all
        select node_b as node from {{ edges }}
    ) as both_ends
),

keyed as (
    select
        node,
        {{ idstitch_round_key('node', seed) }} as round_key
    from endpoints
),

candidates as (
    select
        node,
        round_key
    from keyed
    union all
    select
        edges.node_a as node,
        keyed.round_key
    from {{ edges }} as edges
    inner join keyed
        on edges.node_b = keyed.node
    union all
    select
        edges.node_b as node,
        keyed.round_key
    from {{ edges }} as edges
    inner join keyed
        on edges.node_a = keyed.node
)

select
    node,
    mod(min(round_key), {{ idstitch_node_key_bound() }}) as hook
from candidates
group by node
{% endmacro %}


{#- round r, step 2: the edges between hooks that are still distinct -#}
{% macro idstitch_cc_contract_sql(edges, hooks) %}
select distinct
    least(hook_a.hook, hook_b.hook) as node_a,
    greatest(hook_a.hook, hook_b.hook) as node_b
from {{ edges }} as edges
inner join {{ hooks }} as hook_a
    on edges.node_a = hook_a.node
inner join {{ hooks }} as hook_b
    on edges.node_b = hook_b.node
where hook_a.hook != hook_b.hook
{% endmacro %}


{#- composing back: a node's representative is the representative of its hook in the next round -#}
{% macro idstitch_cc_compose_sql(hooks, next_representatives) %}
select
    hooks.node,
    {% if next_representatives is none -%}
    hooks.hook as representative
    {%- else -%}
    coalesce(next_round.representative, hooks.hook) as representative
    {%- endif %}
from {{ hooks }} as hooks
{%- if next_representatives is not none %}
left join {{ next_representatives }} as next_round
    on hooks.hook = next_round.node
{%- endif %}
{% endmacro %}


{#- the result: every node with its component's representative -#}
{% macro idstitch_cc_result_sql(nodes, representatives) %}
select
    nodes.node as node_key,
    {% if representatives is none -%}
    nodes.node as component_key
    {%- else -%}
    coalesce(representatives.representative, nodes.node) as component_key
    {%- endif %}
from {{ nodes }} as nodes
{%- if representatives is not none %}
left join {{ representatives }} as representatives
    on nodes.node = representatives.node
{%- endif %}
{% endmacro %}


{#- create or replace a table from a query -#}
{% macro idstitch_create_table_as(relation, sql) %}
    {{- return(adapter.dispatch('idstitch_create_table_as', 'idstitch')(relation, sql)) -}}
{% endmacro %}

{% macro default__idstitch_create_table_as(relation, sql) %}
create or replace table {{ relation }} as
{{ sql }}
{% endmacro %}

{% macro snowflake__idstitch_create_table_as(relation, sql) %}
create or replace transient table {{ relation }} as
{{ sql }}
{% endmacro %}
