{#-
    Materialization `idstitch_erased_profiles` (docs/semantics.md §3c): the hashes a profile-scope
    erasure forgets. A profile erasure forgets every value of the profile that holds the
    requested value in the result without profile-scope erasures (R1), so that result is
    computed here, over every accepted event, with the same resolution as the main models
    (idstitch_resolve), before the main models drop the events that carry the profile's values.

    The model's SQL returns one row per value of each accepted event (event_rank, strategy, role,
    item_order, node_key, id_type, id_value, occurred_at, is_shared). The table built has one
    row per value: (digest, is_erased, is_watched), the digest being idstitch_erasure_digest of
    the value's md5 id (the table holds no value, and no md5 id either); is_erased marks the
    requests' own values and the nodes of their profiles in R1, is_watched those and every value of the same
    partition of the events (a later raw row carrying one of them makes a full run, see
    idstitch_profile_erasure_hit). Only a full run with requests of scope profile computes it
    (about the cost of a second resolution); any other full run writes it empty, and an
    incremental run keeps it. Every work table, which holds values, is dropped before the model
    ends.
-#}
{% materialization idstitch_erased_profiles, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- if not idstitch_full_run() and existing is not none -%}
        {{ return(idstitch_keep_as_is(target_relation)) }}
    {%- endif -%}
    {{ run_hooks(pre_hooks) }}
    {%- set empty = 'select cast(null as ' ~ dbt.type_string() ~ ') as digest, cast(null as ' ~ dbt.type_boolean()
        ~ ') as is_erased, cast(null as ' ~ dbt.type_boolean() ~ ') as is_watched where 1 = 0' -%}
    {%- if not idstitch_profile_erasure_applies() -%}
        {%- set finish = [idstitch_create_table_as(target_relation, empty)] -%}
    {%- else -%}
        {%- set finish = idstitch_erased_profiles_build(target_relation, sql) -%}
    {%- endif -%}
    {%- do idstitch_run_script(finish, fetch=false) -%}
    {% call noop_statement('main', 'OK') -%}
        {{ finish | join('\n;\n') }}
    {%- endcall %}
    {{ run_hooks(post_hooks) }}
    {% do adapter.commit() %}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- R1 over the values `values_sql` returns, and the hashes it forgets; returns the last script
    (the result and the drops), for the caller to run -#}
{% macro idstitch_erased_profiles_build(target_relation, values_sql) %}
    {%- set values = idstitch_scratch_relation(target_relation, 'values') -%}
    {%- set never = idstitch_scratch_relation(target_relation, 'never') -%}
    {%- set decisions = idstitch_scratch_relation(target_relation, 'decisions') -%}
    {%- set partitions = decisions.incorporate(path={'identifier': decisions.identifier ~ '__comps'}) -%}
    {%- set log = idstitch_scratch_relation(target_relation, 'log') -%}
    {%- set profiles = idstitch_scratch_relation(target_relation, 'profiles') -%}
    {%- set hash = idstitch_md5("id_type || ':' || id_value") -%}
    {%- do idstitch_run_script([
        idstitch_create_table_as(values, values_sql),
        idstitch_create_table_as(never, idstitch_never_merge_pairs_sql(ref('stg_idstitch__identifiers'),
            '(select distinct id_type, id_value, node_key from ' ~ values ~ ')')),
    ], fetch=false) -%}
    {#- shared values never link, and an event whose identifiers are all shared is not resolved -#}
    {%- set items_sql = 'select event_rank, strategy, role, item_order, node_key, id_type, occurred_at from ' ~ values
        ~ ' where not is_shared and event_rank in (select event_rank from ' ~ values ~ " where role = 'id' and not is_shared)" -%}
    {%- set outcome = idstitch_resolve(items_sql, never, decisions, log) -%}
    {%- if outcome['error'] is not none -%}
        {%- do idstitch_run_script(idstitch_drops_sql([values, never, decisions, partitions, log]), fetch=false) -%}
        {{ exceptions.raise_compiler_error(outcome['error']) }}
    {%- endif -%}
    {#- the profiles of R1: components of the unions applied, every value a node of its own first -#}
    {%- set grouped = idstitch_run_components(
        'select node_key as node_a, node_key as node_b from ' ~ values
        ~ " union all select anchor_key as node_a, node_key as node_b from " ~ decisions
        ~ " where decision = 'applied' and anchor_key is not null",
        profiles, 'erased_profiles', idstitch_config()['max_iterations'], defer_finish=true) -%}
    {%- if grouped['error'] is not none -%}
        {%- do idstitch_run_script(grouped['queue'] + idstitch_drops_sql([values, never, decisions, partitions, log, profiles]), fetch=false) -%}
        {{ exceptions.raise_compiler_error(grouped['error']) }}
    {%- endif -%}
    {%- set result -%}
with

requested as (
    select distinct id_hash
    from {{ ref('stg_idstitch__erasures') }}
    where scope = 'profile' and id_hash is not null
),

nodes as (
    select distinct
        node_key,
        {{ hash }} as id_hash
    from {{ values }}
),

requested_nodes as (
    select nodes.node_key
    from nodes
    inner join requested
        on nodes.id_hash = requested.id_hash
),

{%- for name, grouping in [('profile_nodes', profiles), ('partition_nodes', partitions)] %}

{{ name }} as (
    select grouped.node_key
    from {{ grouping }} as grouped
    where grouped.component_key in (
        select of_request.component_key
        from {{ grouping }} as of_request
        inner join requested_nodes
            on of_request.node_key = requested_nodes.node_key
    )
),
{%- endfor %}

marked as (
    select
        id_hash,
        1 as erased_flag
    from requested
    union all
    select
        nodes.id_hash,
        1 as erased_flag
    from nodes
    inner join profile_nodes
        on nodes.node_key = profile_nodes.node_key
    union all
    select
        nodes.id_hash,
        0 as erased_flag
    from nodes
    inner join partition_nodes
        on nodes.node_key = partition_nodes.node_key
)

select
    {{ idstitch_erasure_digest('id_hash') }} as digest,
    max(erased_flag) = 1 as is_erased,
    true as is_watched
from marked
group by id_hash
    {%- endset -%}
    {{ return(grouped['queue'] + [idstitch_create_table_as(target_relation, result)]
        + idstitch_drops_sql([values, never, decisions, partitions, log, profiles])) }}
{% endmacro %}
