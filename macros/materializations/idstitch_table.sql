{#-
    Materialization `idstitch_table`: the working tables of a run, rebuilt every run.

    One `create or replace table ... as` statement (transient on Snowflake). dbt's `table`
    materialization builds a temporary table, renames the old one away, renames the new one in
    and drops the old: four statements and their cache updates per model, for tables no one
    reads while a run builds them. The working tables need none of that.
-#}
{% materialization idstitch_table, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {{ run_hooks(pre_hooks) }}
    {%- if existing is not none and not existing.is_table -%}
        {%- do adapter.drop_relation(existing) -%}
    {%- endif -%}
    {% call statement('main') -%}
        {{ idstitch_create_table_as(target_relation, sql) }}
    {%- endcall %}
    {{ run_hooks(post_hooks) }}
    {% do adapter.commit() %}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- Materialization `idstitch_view`: the staging views, in one `create or replace view` statement. -#}
{% materialization idstitch_view, default %}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {{ run_hooks(pre_hooks) }}
    {%- if existing is not none and not existing.is_view -%}
        {%- do adapter.drop_relation(existing) -%}
    {%- endif -%}
    {% call statement('main') -%}
        create or replace view {{ target_relation }} as
        {{ sql }}
    {%- endcall %}
    {{ run_hooks(post_hooks) }}
    {% do adapter.commit() %}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
