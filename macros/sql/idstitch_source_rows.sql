{#-
    The raw rows of one configured source, in a standard shape: source name, event id, time,
    a fingerprint of the configured columns (to tell identical copies of an event from
    differing ones) and each configured column cast to a string as `col_<n>`.
-#}

{% macro idstitch_source_relation(source_config) %}
    {%- if source_config['source'] is not none -%}
        {%- set parts = source_config['source'].split('.') -%}
        {%- set relation = source(parts[0], parts[1]) -%}
        {%- do idstitch_require_source(relation, source_config) -%}
        {{- return(relation) -}}
    {%- endif -%}
    {{- return(ref(source_config['ref'])) -}}
{% endmacro %}


{#-
    Fails the model, before any SQL is sent, when the raw table a configured dbt source names
    does not exist: the message names the table, the dbt source and the key of the idstitch var
    that reads it, instead of the warehouse's own "table not found" deep in a model's SQL.
    Checked when dbt runs or builds models (not while it parses or compiles, nor in a unit
    test, whose inputs are given rows), once per table and dbt invocation.
-#}
{% macro idstitch_require_source(relation, source_config) %}
    {%- if not execute or not flags.INTROSPECT or flags.WHICH not in ['run', 'build'] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if model is defined and model.resource_type == 'unit_test' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set cache = idstitch_run_cache() -%}
    {%- set key = 'source_exists:' ~ relation -%}
    {%- if key in cache -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) is none -%}
        {%- set name = source_config.get('name') -%}
        {%- set reader = 'source `' ~ name ~ '` of the idstitch var' if name and name != 'manual_merges'
            else '`idstitch.' ~ (name or 'never_merge') ~ '`' -%}
        {{ exceptions.raise_compiler_error('idstitch: the raw table ' ~ relation ~ ' does not exist; ' ~ reader
            ~ ' reads it as the dbt source `' ~ source_config['source'] ~ '`. Load the table, or point '
            ~ reader ~ ' (or that dbt source) at the table that holds its rows.') }}
    {%- endif -%}
    {%- do cache.update({key: true}) -%}
{% endmacro %}


{#- every configured column of a source, each once, in a fixed order (the fingerprint's order) -#}
{% macro idstitch_source_columns(source_config) %}
    {%- set columns = [] -%}
    {%- for c in source_config['identifiers'] + source_config['aliases'] -%}
        {%- do columns.append(c['column']) -%}
    {%- endfor -%}
    {%- for p in source_config['pairs'] -%}
        {%- do columns.extend([p['type'], p['value']]) -%}
    {%- endfor -%}
    {%- do columns.extend(source_config['traits']) -%}
    {%- set unique = [] -%}
    {%- for c in columns if c not in unique -%}
        {%- do unique.append(c) -%}
    {%- endfor -%}
    {{- return(unique) -}}
{% endmacro %}


{#- the name under which a configured column appears in idstitch_source_rows -#}
{% macro idstitch_source_column_alias(source_config, column) %}
    {{- return('col_' ~ idstitch_source_columns(source_config).index(column)) -}}
{% endmacro %}


{#-
    `loaded_since`: when given, a SQL expression of a time; only the rows loaded at or after it
    are read, and the rows without a load time.
    `pending_only`: in an incremental run, only the rows that may hold copies not yet checked:
    those loaded at or after the earliest loaded_at of the source's pending copies (a source
    without loaded_at is read whole; the caller joins to the pending copies).
    `relation`: the raw relation, when the caller found it without source() or ref() (a macro
    that any model may call, such as idstitch_profile_erasure_hit).
-#}
{% macro idstitch_source_rows(source_config, pending_only=false, loaded_since=none, relation=none) %}
    {%- set columns = idstitch_source_columns(source_config) -%}
    {%- set bound = loaded_since -%}
    {%- if pending_only -%}
        {%- set cache = idstitch_run_cache() -%}
        {%- if 'pending_load_bounds' not in cache -%}
            {#- asking for the pending batches (idstitch_uncommitted) reads these bounds too -#}
            {%- set condition = idstitch_uncommitted('copies') -%}
            {%- if 'pending_load_bounds' not in cache -%}
                {%- do cache.update({'pending_load_bounds': idstitch_load_bounds(
                    ref('int_idstitch__event_copies'), 'min', condition)}) -%}
            {%- endif -%}
        {%- endif -%}
        {%- set bound = cache['pending_load_bounds'][source_config['name']] -%}
    {%- endif %}
select
    {{ idstitch_literal(source_config['name']) }} as source,
    nullif({{ idstitch_trim(idstitch_to_string(idstitch_column(source_config['event_id']))) }}, '') as event_id,
    {{ idstitch_try_timestamp(idstitch_column(source_config['occurred_at'])) }} as occurred_at,
    {{ idstitch_column(source_config['occurred_at']) }} is not null as has_raw_occurred_at,
    {% if source_config['loaded_at'] is not none -%}
    {{ idstitch_try_timestamp(idstitch_column(source_config['loaded_at'])) }} as loaded_at,
    {%- else -%}
    cast(null as {{ dbt.type_timestamp() }}) as loaded_at,
    {%- endif %}
    {{ idstitch_md5(idstitch_fingerprint_expr(columns)) }} as fingerprint
    {%- for c in columns %},
    {{ idstitch_to_string(idstitch_column(c)) }} as col_{{ loop.index0 }}
    {%- endfor %}
from {{ relation if relation is not none else idstitch_source_relation(source_config) }}
{%- if bound is not none and source_config['loaded_at'] is not none %}
where
    {{ idstitch_try_timestamp(idstitch_column(source_config['loaded_at'])) }} is null
    or {{ idstitch_try_timestamp(idstitch_column(source_config['loaded_at'])) }} >= {{ bound }}
{%- endif %}
{%- endmacro %}


{#-
    The events of every configured source (stg_idstitch__events): key, time, load time and
    fingerprint, one row per raw row. `loaded_since` maps a source's name to the SQL bound of
    idstitch_source_rows for it (no bound: every row).
-#}
{% macro idstitch_source_events_sql(config, loaded_since={}) %}
with
{% for s in config['event_sources'] %}
{{ s['name'] }}__rows as (
    {{ idstitch_source_rows(s, loaded_since=loaded_since.get(s['name'])) | indent(4) }}
),
{% endfor %}

all_rows as (
    {%- for s in config['event_sources'] %}
    select
        source,
        event_id,
        occurred_at,
        has_raw_occurred_at,
        loaded_at,
        fingerprint
    from {{ s['name'] }}__rows
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from all_rows
{%- endmacro %}


{#- columns as strings, nulls as chr(30), joined by chr(31): equal iff the values are equal -#}
{% macro idstitch_fingerprint_expr(columns) %}
    {%- set parts = [] -%}
    {%- for c in columns -%}
        {%- do parts.append('coalesce(' ~ idstitch_to_string(idstitch_column(c)) ~ ', ' ~ idstitch_chr(30) ~ ')') -%}
    {%- endfor -%}
    {{- return(parts | join(' || ' ~ idstitch_chr(31) ~ ' || ')) -}}
{% endmacro %}


{#- every identifier cell of every source: which rows CTE, role, column, type expression, value column -#}
{% macro idstitch_identifier_cells(config) %}
    {%- set cells = [] -%}
    {%- for s in config['event_sources'] -%}
        {%- for c in s['identifiers'] + s['aliases'] -%}
            {%- do cells.append({
                'rows': s['name'] ~ '__rows',
                'role': 'identifier' if c in s['identifiers'] else 'alias',
                'column_name': c['column'],
                'id_type': idstitch_literal(c['id_type']),
                'value': idstitch_source_column_alias(s, c['column']),
            }) -%}
        {%- endfor -%}
        {%- for p in s['pairs'] -%}
            {#- a pair's type comes from the data: trimmed and lower-cased before it is looked up -#}
            {%- do cells.append({
                'rows': s['name'] ~ '__rows',
                'role': 'pair',
                'column_name': p['value'],
                'id_type': 'lower(' ~ idstitch_trim(idstitch_source_column_alias(s, p['type'])) ~ ')',
                'value': idstitch_source_column_alias(s, p['value']),
            }) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(cells) -}}
{% endmacro %}


{#- the bounds of idstitch_load_bounds from rows (source, bound as a string or none) -#}
{% macro idstitch_literal_load_bounds(rows, if_none=none) %}
    {%- set fallback = 'cast(' ~ (idstitch_literal(if_none) if if_none is not none else 'null') ~ ' as ' ~ dbt.type_timestamp() ~ ')' -%}
    {%- set found = {} -%}
    {%- for row in rows if row[1] is not none -%}
        {%- do found.update({row[0]: 'cast(' ~ idstitch_literal(row[1]) ~ ' as ' ~ dbt.type_timestamp() ~ ')'}) -%}
    {%- endfor -%}
    {%- set bounds = {} -%}
    {%- for s in idstitch_config()['event_sources'] -%}
        {%- do bounds.update({s['name']: found.get(s['name'], fallback)}) -%}
    {%- endfor -%}
    {{- return(bounds) -}}
{% endmacro %}


{#-
    Per source name, a load-time bound read from a table of copies (`copies`: source, loaded_at,
    batch_id), as a SQL literal: the `aggregate` (min or max) of loaded_at over the copies that
    meet `condition` (on alias `copies`). A literal, not a subquery, so that the warehouse can
    filter the raw rows as it scans them (DuckDB skips whole row groups by their min/max; a
    subquery bound is applied as a join, after every other filter). Read as a string, a time
    can only lose digits, which lowers the bound: a few more rows are read, and the callers drop
    the copies they have seen. A source without such copies gets `if_none` (a time, or none
    for null: no row with a load time passes). When the warehouse is not queried (parsing,
    `dbt compile --no-introspect`), the bounds are the same values written as subqueries.
-#}
{% macro idstitch_load_bounds(copies, aggregate, condition='1 = 1', if_none=none) %}
    {%- set bound_sql = aggregate ~ '(copies.loaded_at)' -%}
    {%- set fallback = 'cast(' ~ (idstitch_literal(if_none) if if_none is not none else 'null') ~ ' as ' ~ dbt.type_timestamp() ~ ')' -%}
    {%- set introspect = execute and flags.INTROSPECT -%}
    {%- if introspect -%}
        {%- set query = 'select copies.source, ' ~ idstitch_to_string(bound_sql) ~ ' as bound from ' ~ copies
            ~ ' as copies where ' ~ condition ~ ' group by copies.source' -%}
        {{- return(idstitch_literal_load_bounds(run_query(query).rows, if_none)) -}}
    {%- endif -%}
    {%- set bounds = {} -%}
    {%- for s in idstitch_config()['event_sources'] -%}
        {%- do bounds.update({s['name']: 'coalesce((select ' ~ bound_sql ~ ' from ' ~ copies ~ ' as copies where copies.source = '
            ~ idstitch_literal(s['name']) ~ ' and ' ~ condition ~ '), ' ~ fallback ~ ')'}) -%}
    {%- endfor -%}
    {{- return(bounds) -}}
{% endmacro %}
