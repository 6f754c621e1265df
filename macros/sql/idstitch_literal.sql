{#- A SQL string literal for a Python string; warehouses differ in how backslashes are read. -#}
{% macro idstitch_literal(value) %}
    {{- return(adapter.dispatch('idstitch_literal', 'idstitch')(value)) -}}
{% endmacro %}

{% macro default__idstitch_literal(value) %}
    {{- return("'" ~ (value | string).replace("'", "''") ~ "'") -}}
{% endmacro %}

{% macro snowflake__idstitch_literal(value) %}
    {{- return("'" ~ (value | string).replace("\\", "\\\\").replace("'", "''") ~ "'") -}}
{% endmacro %}

{% macro bigquery__idstitch_literal(value) %}
    {{- return("'" ~ (value | string).replace("\\", "\\\\").replace("'", "\\'") ~ "'") -}}
{% endmacro %}


{#- A column of a user's raw table, quoted so that names like `timestamp` work. -#}
{% macro idstitch_column(name) %}
    {{- return(adapter.dispatch('idstitch_column', 'idstitch')(name)) -}}
{% endmacro %}

{% macro default__idstitch_column(name) %}
    {{- return(adapter.quote(name)) -}}
{% endmacro %}

{% macro snowflake__idstitch_column(name) %}
    {#- unquoted names are upper-cased by Snowflake; quote the upper-case form of a lowercase name -#}
    {{- return(adapter.quote(name.upper() if name == name.lower() else name)) -}}
{% endmacro %}
