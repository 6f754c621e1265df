{#-
    Run statements in order and return the result of the last one (an agate table).

    The loops of idstitch issue many small statements; on DuckDB most of their cost is dbt's
    own work per statement (events, logging, a cursor round trip), not the SQL, and on BigQuery a
    job's start-up. DuckDB and BigQuery run a script of several statements in one call, so a
    loop hands each group of statements that need no answer in between to this macro. Other
    warehouses (Snowflake: dbt-snowflake splits a script into its statements) run them one by
    one.
-#}
{% macro idstitch_run_script(statements, fetch=true) %}
    {{- return(adapter.dispatch('idstitch_run_script', 'idstitch')(statements, fetch)) -}}
{% endmacro %}

{#- `fetch=false`: no result wanted, so none is read into a table (that costs dbt a type
    inference per result) -#}
{% macro default__idstitch_run_script(statements, fetch) %}
    {%- set ns = namespace(result=none) -%}
    {%- for sql in statements -%}
        {%- if fetch and loop.last -%}
            {%- set ns.result = run_query(sql) -%}
        {%- else -%}
            {%- do adapter.execute(sql, fetch=false) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(ns.result) -}}
{% endmacro %}

{% macro duckdb__idstitch_run_script(statements, fetch) %}
    {{- return(idstitch_run_joined_script(statements, fetch)) -}}
{% endmacro %}

{#- BigQuery runs a multi-statement script as one job, and the job's result is that of its last
    statement: one round trip (and one job's start-up) instead of one per statement -#}
{% macro bigquery__idstitch_run_script(statements, fetch) %}
    {{- return(idstitch_run_joined_script(statements, fetch)) -}}
{% endmacro %}

{#- the statements as one script; a statement may end in a `--` comment, so the separator starts
    a new line -#}
{% macro idstitch_run_joined_script(statements, fetch) %}
    {%- if statements | length == 0 -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- if not fetch -%}
        {%- do adapter.execute(statements | join('\n;\n'), fetch=false) -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return(run_query(statements | join('\n;\n'))) -}}
{% endmacro %}


{#- the statements that drop scratch tables, one per relation -#}
{% macro idstitch_drops_sql(relations) %}
    {%- set drops = [] -%}
    {%- for relation in relations -%}
        {%- do drops.append('drop table if exists ' ~ relation) -%}
    {%- endfor -%}
    {{- return(drops) -}}
{% endmacro %}
