{#- String helpers whose spelling differs by warehouse. -#}

{#- cast any value to the warehouse's string type -#}
{% macro idstitch_to_string(expr) %}
    {{- return(adapter.dispatch('idstitch_to_string', 'idstitch')(expr)) -}}
{% endmacro %}

{% macro default__idstitch_to_string(expr) %}cast({{ expr }} as {{ dbt.type_string() }}){% endmacro %}

{% macro bigquery__idstitch_to_string(expr) %}cast({{ expr }} as string){% endmacro %}


{#- strip spaces, tabs and line breaks from both ends (SQL's plain trim() only strips spaces) -#}
{% macro idstitch_trim(expr) %}
    {{- return(adapter.dispatch('idstitch_trim', 'idstitch')(expr)) -}}
{% endmacro %}

{% macro default__idstitch_trim(expr) %}trim({{ expr }}, ' ' || {{ idstitch_chr(9) }} || {{ idstitch_chr(10) }} || {{ idstitch_chr(13) }}){% endmacro %}


{#- the one-character string of a code point; keeps control characters out of the SQL text -#}
{% macro idstitch_chr(code) %}
    {{- return(adapter.dispatch('idstitch_chr', 'idstitch')(code)) -}}
{% endmacro %}

{% macro default__idstitch_chr(code) %}chr({{ code }}){% endmacro %}

{% macro bigquery__idstitch_chr(code) %}code_points_to_string([{{ code }}]){% endmacro %}


{#- true when the regular expression matches anywhere in the string -#}
{% macro idstitch_regex_contains(expr, pattern) %}
    {{- return(adapter.dispatch('idstitch_regex_contains', 'idstitch')(expr, pattern)) -}}
{% endmacro %}

{% macro default__idstitch_regex_contains(expr, pattern) %}regexp_matches({{ expr }}, {{ idstitch_literal(pattern) }}){% endmacro %}

{% macro snowflake__idstitch_regex_contains(expr, pattern) %}(regexp_instr({{ expr }}, {{ idstitch_literal(pattern) }}) > 0){% endmacro %}

{% macro bigquery__idstitch_regex_contains(expr, pattern) %}regexp_contains({{ expr }}, {{ idstitch_literal(pattern) }}){% endmacro %}


{#- remove every character of a class, e.g. '[ .()-]' -#}
{% macro idstitch_regex_remove(expr, pattern) %}
    {{- return(adapter.dispatch('idstitch_regex_remove', 'idstitch')(expr, pattern)) -}}
{% endmacro %}

{% macro default__idstitch_regex_remove(expr, pattern) %}regexp_replace({{ expr }}, {{ idstitch_literal(pattern) }}, '', 'g'){% endmacro %}

{% macro snowflake__idstitch_regex_remove(expr, pattern) %}regexp_replace({{ expr }}, {{ idstitch_literal(pattern) }}, ''){% endmacro %}

{% macro bigquery__idstitch_regex_remove(expr, pattern) %}regexp_replace({{ expr }}, {{ idstitch_literal(pattern) }}, ''){% endmacro %}


{#- lowercase hex MD5 of a string: the rudder_id of a node is md5(id_type || ':' || id_value) -#}
{% macro idstitch_md5(expr) %}
    {{- return(adapter.dispatch('idstitch_md5', 'idstitch')(expr)) -}}
{% endmacro %}

{% macro default__idstitch_md5(expr) %}lower(md5({{ expr }})){% endmacro %}

{% macro bigquery__idstitch_md5(expr) %}to_hex(md5({{ expr }})){% endmacro %}


{#- comma-separated distinct values in ascending order -#}
{% macro idstitch_string_agg_distinct(expr) %}
    {{- return(adapter.dispatch('idstitch_string_agg_distinct', 'idstitch')(expr)) -}}
{% endmacro %}

{% macro default__idstitch_string_agg_distinct(expr) %}string_agg(distinct {{ expr }}, ',' order by {{ expr }}){% endmacro %}

{% macro snowflake__idstitch_string_agg_distinct(expr) %}listagg(distinct {{ expr }}, ',') within group (order by {{ expr }}){% endmacro %}


{#- parse a raw value as a timestamp; unparseable values become null -#}
{% macro idstitch_try_timestamp(expr) %}
    {{- return(adapter.dispatch('idstitch_try_timestamp', 'idstitch')(expr)) -}}
{% endmacro %}

{% macro default__idstitch_try_timestamp(expr) %}try_cast({{ expr }} as timestamp){% endmacro %}

{% macro snowflake__idstitch_try_timestamp(expr) %}try_to_timestamp_ntz({{ idstitch_to_string(expr) }}){% endmacro %}

{% macro bigquery__idstitch_try_timestamp(expr) %}safe_cast({{ expr }} as timestamp){% endmacro %}
