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


{#-
    the loop's input edges: the node pairs that are not self-pairs, as they come. Duplicates and
    both orientations of an edge are harmless (a hook is a minimum, and contraction returns
    distinct edges), so the first round pays for no distinct pass over the input.
-#}
{% macro idstitch_cc_initial_edges_sql(pairs_sql) %}
select
    pairs.node_a,
    pairs.node_b
from ({{ pairs_sql }}) as pairs
where pairs.node_a != pairs.node_b
{% endmacro %}


{#- the range of the node keys of a relation of node pairs, to check them before the loop -#}
{% macro idstitch_cc_bounds_sql(pairs_sql) %}
select
    count(*) as pair_count,
    min(least(pairs.node_a, pairs.node_b)) as min_node,
    max(greatest(pairs.node_a, pairs.node_b)) as max_node
from ({{ pairs_sql }}) as pairs
{% endmacro %}


{#-
    round r, step 1: each active node hooks to the smallest-keyed node of its closed
    neighbourhood. A key is a pure function of (node, round), so it is computed where it is
    needed: each edge offers the smaller key of its two ends to both ends, and a node's minimum
    over its edges is the minimum over itself and its neighbours (an active node has an edge).
    No join and no distinct pass over the endpoints: one scan of the edges and one aggregate.
-#}
{% macro idstitch_cc_hooks_sql(edges, seed) %}
with

edge_keys as (
    select
        node_a,
        node_b,
        least(
            {{ idstitch_round_key('node_a', seed) }},
            {{ idstitch_round_key('node_b', seed) }}
        ) as round_key
    from {{ edges }}
),

candidates as (
    select
        node_a as node,
        round_key
    from edge_keys
    union all
    select
        node_b as node,
        round_key
    from edge_keys
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


{#-
    The result: every node with its component's representative. The nodes that had an edge are
    exactly the nodes of the first round's hooks, composed here with the representatives of
    round 2 (the last compose step, fused into this statement). The others appear only in
    self-pairs and are their own component. So no table of all nodes is ever built: that would
    be a distinct pass over every pair, the largest aggregate of the whole loop.
-#}
{% macro idstitch_cc_result_sql(pairs_sql, first_hooks, representatives) %}
{%- if first_hooks is none %}
select distinct
    pairs.node_a as node_key,
    pairs.node_a as component_key
from ({{ pairs_sql }}) as pairs
where pairs.node_a = pairs.node_b
{%- else %}
with

connected as (
    select
        hooks.node as node_key,
        {% if representatives is none -%}
        hooks.hook as component_key
        {%- else -%}
        coalesce(next_round.representative, hooks.hook) as component_key
        {%- endif %}
    from {{ first_hooks }} as hooks
    {%- if representatives is not none %}
    left join {{ representatives }} as next_round
        on hooks.hook = next_round.node
    {%- endif %}
),

isolated as (
    select distinct
        pairs.node_a as node_key,
        pairs.node_a as component_key
    from ({{ pairs_sql }}) as pairs
    left join {{ first_hooks }} as hooks
        on pairs.node_a = hooks.node
    where
        pairs.node_a = pairs.node_b
        and hooks.node is null
)

select
    node_key,
    component_key
from connected
union all
select
    node_key,
    component_key
from isolated
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

{% macro duckdb__idstitch_create_table_as(relation, sql) %}
create or replace {% if relation.schema is none %}temp {% endif %}table {{ relation }} as
{{ sql }}
{% endmacro %}

{% macro snowflake__idstitch_create_table_as(relation, sql) %}
create or replace transient table {{ relation }} as
{{ sql }}
{% endmacro %}
