{#-
    The columns of the tables in some schemas of the target, for `idstitch init`:

        dbt run-operation idstitch_list_columns --args '{schemas: [raw], skip_prefixes: [rudder_]}'

    Every table or view is reported as one log line: the text `idstitch_list_columns ` and
    then a JSON object, first one for the target ({"target": {...}, "schemas": [...]}) and
    then one per relation ({"schema", "table", "columns": [[name, data type], ...]}). A
    relation whose lowercase name starts with one of `skip_prefixes` is reported with
    `"skipped": true` and no columns, so that its columns are never read. `idstitch init`
    catches the lines through a dbt event callback; a person can read them in the console.

    Only adapter calls are used (dbt's own schema and relation listings and
    `adapter.get_columns_in_relation`), so the same macro reads DuckDB, Snowflake and
    BigQuery. No schemas: every schema of the target database but the information schemas.
-#}
{% macro idstitch_list_columns(schemas=none, skip_prefixes=[]) %}
    {%- set database = target.database -%}
    {%- if not schemas -%}
        {%- set schemas = [] -%}
        {%- for s in idstitch_schema_names(database) | sort -%}
            {%- if s | lower not in ('information_schema', 'pg_catalog') -%}
                {%- do schemas.append(s) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- do idstitch_list_columns_line({
        'target': {'type': target.type, 'database': database, 'schema': target.schema},
        'schemas': schemas,
    }) -%}
    {%- for schema in schemas -%}
        {%- for name in idstitch_relation_names(database, schema) | sort -%}
            {%- set ns = namespace(skipped=false) -%}
            {%- for prefix in skip_prefixes if (name | lower).startswith(prefix) -%}
                {%- set ns.skipped = true -%}
            {%- endfor -%}
            {%- if ns.skipped -%}
                {%- do idstitch_list_columns_line({'schema': schema, 'table': name, 'skipped': true}) -%}
            {%- else -%}
                {%- set relation = api.Relation.create(database=database, schema=schema, identifier=name) -%}
                {%- set columns = [] -%}
                {%- for c in adapter.get_columns_in_relation(relation) -%}
                    {%- do columns.append([c.name, c.data_type]) -%}
                {%- endfor -%}
                {%- do idstitch_list_columns_line({'schema': schema, 'table': name, 'columns': columns}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
{% endmacro %}


{% macro idstitch_list_columns_line(payload) %}
    {%- do log('idstitch_list_columns ' ~ tojson(payload), info=true) -%}
{% endmacro %}


{#- the schema names of a database, from dbt's own listing (a table, or a list of names) -#}
{% macro idstitch_schema_names(database) %}
    {{- return(adapter.dispatch('idstitch_schema_names', 'idstitch')(database)) -}}
{% endmacro %}

{% macro default__idstitch_schema_names(database) %}
    {{- return(idstitch_listed_names(list_schemas(database), ['schema_name', 'name'])) -}}
{% endmacro %}

{% macro snowflake__idstitch_schema_names(database) %}
    {#- `show terse schemas`: the name is in column `name` -#}
    {{- return(idstitch_listed_names(list_schemas(database), ['name'])) -}}
{% endmacro %}

{% macro bigquery__idstitch_schema_names(database) %}
    {#- the BigQuery adapter lists the datasets itself, as plain names -#}
    {{- return(adapter.list_schemas(database)) -}}
{% endmacro %}


{#- the names of the tables and views of one schema, from dbt's own listing -#}
{% macro idstitch_relation_names(database, schema) %}
    {{- return(adapter.dispatch('idstitch_relation_names', 'idstitch')(database, schema)) -}}
{% endmacro %}

{% macro default__idstitch_relation_names(database, schema) %}
    {%- set schema_relation = api.Relation.create(database=database, schema=schema) -%}
    {{- return(idstitch_listed_names(list_relations_without_caching(schema_relation), ['name', 'table_name'])) -}}
{% endmacro %}

{% macro snowflake__idstitch_relation_names(database, schema) %}
    {#- `show objects`: the name is in column `name` -#}
    {%- set schema_relation = api.Relation.create(database=database, schema=schema) -%}
    {{- return(idstitch_listed_names(list_relations_without_caching(schema_relation), ['name'])) -}}
{% endmacro %}

{% macro bigquery__idstitch_relation_names(database, schema) %}
    {#- the BigQuery adapter lists relations itself, as relation objects -#}
    {%- set schema_relation = api.Relation.create(database=database, schema=schema) -%}
    {%- set names = [] -%}
    {%- for r in list_relations_without_caching(schema_relation) -%}
        {%- do names.append(r.identifier) -%}
    {%- endfor -%}
    {{- return(names) -}}
{% endmacro %}


{#-
    The names in a listing: a list of names as it is, or an agate table's first column among
    `candidates` (compared case-insensitively), else its first column.
-#}
{% macro idstitch_listed_names(listed, candidates) %}
    {%- if listed.column_names is not defined -%}
        {{- return(listed | list) -}}
    {%- endif -%}
    {%- set ns = namespace(index=0, found=false) -%}
    {%- for wanted in candidates -%}
        {%- for name in listed.column_names -%}
            {%- if not ns.found and name | lower == wanted -%}
                {%- set ns.index = loop.index0 -%}
                {%- set ns.found = true -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(listed.columns[ns.index].values() | list) -}}
{% endmacro %}
