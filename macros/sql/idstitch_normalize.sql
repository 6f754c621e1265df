{#-
    Normalization and validation of identifier values (docs/semantics.md §1), as SQL expressions over a
    trimmed value. The Python reference (scripts/idstitch/normalize.py) implements the same rules.
-#}


{% macro idstitch_email_pattern() %}{{ return('^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$') }}{% endmacro %}
{% macro idstitch_phone_pattern() %}{{ return('^\\+[1-9][0-9]{7,14}$') }}{% endmacro %}
{% macro idstitch_max_value_length() %}{{ return(512) }}{% endmacro %}


{#- E.164: drop spaces and - . ( ), a leading 00 becomes +, no leading + gets + and the default country code -#}
{% macro idstitch_normalize_phone(trimmed, country_code) %}
    {%- set digits = idstitch_regex_remove(trimmed, '[ .()-]') -%}
    case
        when {{ digits }} like '00%' then '+' || substr({{ digits }}, 3)
        when {{ digits }} like '+%' then {{ digits }}
        else '+{{ country_code }}' || {{ digits }}
    end
{%- endmacro %}


{#- the normalized value of `trimmed` for the type whose normalize rule is in column `normalize_column` -#}
{% macro idstitch_normalize_value(trimmed, normalize_column, country_code) %}
    case {{ normalize_column }}
        when 'email' then lower({{ trimmed }})
        when 'lower' then lower({{ trimmed }})
        when 'phone' then {{ idstitch_normalize_phone(trimmed, country_code) }}
        else {{ trimmed }}
    end
{%- endmacro %}


{#- a boolean: is the normalized value blocked (globally or for its type)? -#}
{% macro idstitch_is_blocked(value, type_column, config) %}
    {%- set tests = [] -%}
    {%- if config['blocked']['exact'] | length > 0 -%}
        {%- set items = [] -%}
        {%- for v in config['blocked']['exact'] -%}{%- do items.append(idstitch_literal(v)) -%}{%- endfor -%}
        {%- do tests.append('lower(' ~ value ~ ') in (' ~ items | join(', ') ~ ')') -%}
    {%- endif -%}
    {%- for p in config['blocked']['patterns'] -%}
        {%- do tests.append(idstitch_regex_contains(value, p)) -%}
    {%- endfor -%}
    {%- for t in config['id_types'] -%}
        {%- set type_tests = [] -%}
        {%- if t['blocked']['exact'] | length > 0 -%}
            {%- set items = [] -%}
            {%- for v in t['blocked']['exact'] -%}{%- do items.append(idstitch_literal(v)) -%}{%- endfor -%}
            {%- do type_tests.append('lower(' ~ value ~ ') in (' ~ items | join(', ') ~ ')') -%}
        {%- endif -%}
        {%- for p in t['blocked']['patterns'] -%}
            {%- do type_tests.append(idstitch_regex_contains(value, p)) -%}
        {%- endfor -%}
        {%- if type_tests | length > 0 -%}
            {%- do tests.append('(' ~ type_column ~ ' = ' ~ idstitch_literal(t['name']) ~ ' and (' ~ type_tests | join(' or ') ~ '))') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if tests | length == 0 -%}
        {{- return('false') -}}
    {%- endif -%}
    {{- return('(' ~ tests | join('\n            or ') ~ ')') -}}
{% endmacro %}


{#- the configured identifier types as rows: id_type, priority (1 = highest), normalize -#}
{% macro idstitch_id_types_rows(config) %}
    {%- for t in config['id_types'] %}
    select
        {{ idstitch_literal(t['name']) }} as id_type,
        {{ t['priority'] }} as priority,
        {{ idstitch_literal(t['normalize']) }} as normalize_rule
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor %}
{% endmacro %}
