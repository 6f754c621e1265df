{#-
    Run statements in order and return the result of the last one (an agate table).

    The loops of idstitch issue many small statements; on DuckDB most of their cost is dbt's
    own work per statement (events, logging, a cursor round trip), not the SQL, and on BigQuery a
    job's start-up. DuckDB and BigQuery run a script of several statements in one call, so a
    loop hands each group of statements that need no answer in between to this macro. Snowflake
    runs a group as one Snowflake Scripting block (one request); dbt-snowflake splits a plain
    script at its semicolons, but not inside a `$$` string, which is where the block goes.
    Other warehouses run the statements one by one.
-#}
{% macro idstitch_run_script(statements, fetch=true) %}
    {%- do idstitch_count_requests(idstitch_script_requests(statements)) -%}
    {{- return(adapter.dispatch('idstitch_run_script', 'idstitch')(statements, fetch)) -}}
{% endmacro %}


{#- how many requests idstitch_run_script sends for these statements: one where the warehouse
    takes the group as one script or block, else one per statement -#}
{% macro idstitch_script_requests(statements) %}
    {%- if statements | length == 0 -%}
        {{- return(0) -}}
    {%- endif -%}
    {{- return(adapter.dispatch('idstitch_script_requests', 'idstitch')(statements)) -}}
{% endmacro %}

{% macro default__idstitch_script_requests(statements) %}{{ return(statements | length) }}{% endmacro %}

{#- whether the warehouse takes a group of statements as one request (idstitch_run_script) -#}
{% macro idstitch_script_is_one_request() %}
    {{- return(idstitch_script_requests(['select 1', 'select 2']) == 1) -}}
{% endmacro %}

{% macro duckdb__idstitch_script_requests(statements) %}{{ return(1) }}{% endmacro %}

{% macro bigquery__idstitch_script_requests(statements) %}{{ return(1) }}{% endmacro %}

{% macro snowflake__idstitch_script_requests(statements) %}
    {{- return(1 if idstitch_snowflake_block(statements) else statements | length) -}}
{% endmacro %}


{#- the requests idstitch_run_script has sent in this invocation (idstitch_run_cache): a loop
    model reads it before and after its work, and logs the difference -#}
{% macro idstitch_count_requests(requests=0) %}
    {%- set cache = idstitch_run_cache() -%}
    {%- do cache.update({'requests': cache.get('requests', 0) + requests}) -%}
    {{- return(cache['requests']) -}}
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

{#- Snowflake: one Snowflake Scripting block, `execute immediate $$ begin ...; end; $$`, whose
    last statement's rows come back through a RESULTSET and `return table(...)`. The var
    `idstitch_snowflake_scripting: false` (or a statement holding `$$`, which would end the
    block's string) sends the statements one by one instead -#}
{% macro snowflake__idstitch_run_script(statements, fetch) %}
    {%- if not idstitch_snowflake_block(statements) -%}
        {{- return(default__idstitch_run_script(statements, fetch)) -}}
    {%- endif -%}
    {%- set body = statements[:-1] if fetch else statements -%}
    {%- set lines = ['execute immediate $$', 'begin'] -%}
    {%- for sql in body -%}
        {%- do lines.extend([sql, ';']) -%}
    {%- endfor -%}
    {%- if fetch -%}
        {%- do lines.extend(['let idstitch_result resultset := (', statements[-1], ');', 'return table(idstitch_result);']) -%}
    {%- endif -%}
    {%- do lines.extend(['end;', '$$']) -%}
    {%- if not fetch -%}
        {%- do adapter.execute(lines | join('\n'), fetch=false) -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return(run_query(lines | join('\n'))) -}}
{% endmacro %}

{#- whether Snowflake gets these statements as one Scripting block: two or more, none holding
    `$$`, and Scripting not turned off -#}
{% macro idstitch_snowflake_block(statements) %}
    {{- return(statements | length > 1 and idstitch_snowflake_scripting() and '$$' not in statements | join('\n')) -}}
{% endmacro %}

{#- var `idstitch_snowflake_scripting`: true unless set false -#}
{% macro idstitch_snowflake_scripting() %}
    {{- return(var('idstitch_snowflake_scripting', true) not in [false, 'false', 'False', 0]) -}}
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
