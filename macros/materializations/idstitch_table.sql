{#-
    Materializations `idstitch_table` and `idstitch_view`: the working tables of a run and the
    staging views, rebuilt every run.

    One `create or replace` statement (a transient table on Snowflake). dbt's `table` and `view`
    materializations build a temporary relation, rename the old one away, rename the new one in
    and drop the old: four statements and their cache updates per model, for relations no one
    reads while a run builds them.
-#}
{% materialization idstitch_table, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {{ return(idstitch_replace_relation(target_relation, idstitch_create_table_as(target_relation, sql))) }}
{% endmaterialization %}


{% materialization idstitch_view, default %}
    {%- set target_relation = this.incorporate(type='view') -%}
    {{ return(idstitch_replace_relation(target_relation, 'create or replace view ' ~ target_relation ~ ' as\n' ~ sql)) }}
{% endmaterialization %}


{#- the body of both: a relation of another type in the way is dropped first -#}
{% macro idstitch_replace_relation(target_relation, create_sql) %}
    {%- if idstitch_nothing_to_do() -%}
        {{ return(idstitch_keep_as_is(target_relation)) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {{ run_hooks(pre_hooks) }}
    {%- if existing is not none and existing.type != target_relation.type -%}
        {%- do adapter.drop_relation(existing) -%}
    {%- endif -%}
    {% call statement('main') -%}
        {{ create_sql }}
    {%- endcall %}
    {{ run_hooks(post_hooks) }}
    {% do adapter.commit() %}
    {{ return({'relations': [target_relation]}) }}
{% endmacro %}
