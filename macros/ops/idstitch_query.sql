{#-
    Named read-only queries over idstitch's tables, for the `idstitch` commands that read a
    target through its dbt adapter (`idstitch summary --target ...`):

        dbt run-operation idstitch_query --args '{queries: {profiles: "select count(*) from {rudder_profiles}"}, tables: [rudder_profiles]}'

    Each `{name}` of a model in `tables` is replaced by that model's relation as the target
    spells it, so one query text serves every warehouse. Every query's rows are reported as one
    log line: the text `idstitch_query ` and then {"name": ..., "rows": [[value, ...], ...]}, each
    value as text (or null), which the command converts back.
-#}
{% macro idstitch_query(queries, tables=[]) %}
    {%- for name, sql in queries.items() -%}
        {%- set text = namespace(sql=sql) -%}
        {%- for table in tables -%}
            {%- set text.sql = text.sql.replace('{' ~ table ~ '}', ref(table) | string) -%}
        {%- endfor -%}
        {%- set rows = [] -%}
        {%- for row in run_query(text.sql).rows -%}
            {%- set values = [] -%}
            {%- for value in row -%}
                {%- do values.append(none if value is none else value | string) -%}
            {%- endfor -%}
            {%- do rows.append(values) -%}
        {%- endfor -%}
        {%- do log('idstitch_query ' ~ tojson({'name': name, 'rows': rows}), info=true) -%}
    {%- endfor -%}
{% endmacro %}
