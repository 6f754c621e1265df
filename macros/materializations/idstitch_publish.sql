{#-
    Publishing a run. Every table an analyst reads (the marts) and the state the next run starts
    from (int_idstitch__observation_index) are materialized `idstitch_published`: their rows are
    computed by the model int_idstitch__next_<name> (every row in a full run, the rows to insert
    in an incremental one), and written by the last model of the run, idstitch_batches
    (materialization `idstitch_publish`), which applies every table's change and appends its own
    record of the run in one transaction. A run killed before or while it publishes leaves every
    mart, the state and idstitch_batches as the last finished run left them; its raw copies stay
    pending and the next run takes them up again.

    - DuckDB: one transaction, DDL included (a full run renames each next table into place).
    - Snowflake: the statements inside `begin transaction` ... `commit`, in one Scripting block.
    - BigQuery: one script, `begin transaction; ...; commit transaction;`, one job.
    On Snowflake and BigQuery a DDL statement commits on its own (Snowflake) or may not run
    inside a transaction (BigQuery), so a table that does not exist yet, or whose columns a
    full run changes, is created or replaced on its own before that transaction (see
    default__idstitch_publish_changes and docs/incremental.md, "When a run dies").

    The `idstitch_published` models themselves send nothing: they carry the docs and the data
    tests, which dbt build runs after idstitch_batches, on the published rows. Their config
    `meta` says how an incremental run changes their table: `idstitch_delete`, the rows it
    replaces (see idstitch_delete_condition), or `idstitch_keep_history: true`, a table a run
    only appends to, even a full run (lineage, the run log).
-#}

{% materialization idstitch_published, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- call noop_statement('main', 'PUBLISHED (by idstitch_batches)', 'PUBLISHED', 0) -%}{%- endcall -%}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{% materialization idstitch_publish, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set full = idstitch_full_run() -%}
    {%- set changes = [] if idstitch_nothing_new() else idstitch_published_changes(full) -%}
    {#- this model's own rows: the record of the run, appended (created by the first run) -#}
    {%- do changes.append({
        'target': target_relation,
        'existing': adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier),
        'rows': '(\n' ~ sql ~ '\n)',
        'kind': 'nothing',
        'replace': false}) -%}
    {#- values of erased profiles left in the tables written before they were known -#}
    {%- set scrub = idstitch_scrub_erased_sql() -%}
    {%- if scrub | length > 0 -%}
        {%- do changes.insert(0, {'target': none, 'existing': none, 'dml': scrub}) -%}
    {%- endif -%}
    {{ run_hooks(pre_hooks) }}
    {%- do adapter.dispatch('idstitch_publish_changes', 'idstitch')(changes) -%}
    {{ run_hooks(post_hooks) }}
    {%- call noop_statement('main', 'PUBLISHED ' ~ changes | length ~ ' tables', 'PUBLISHED', changes | length) -%}{%- endcall -%}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#-
    The change of each idstitch_published table, in name order: {target, existing (the table, or
    none), rows (the next table), next (its relation), kind (what an incremental run deletes,
    see idstitch_delete_condition), replace (whether the table's rows are all replaced)}.
-#}
{% macro idstitch_published_changes(full) %}
    {%- set changes = [] -%}
    {%- set nodes = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model') | list -%}
    {%- for node in nodes | sort(attribute='name') if node.config.materialized == 'idstitch_published' -%}
        {%- set meta = node.config.meta or {} -%}
        {%- set keep_history = meta.get('idstitch_keep_history', false) -%}
        {%- set next_name = idstitch_next_model(node.name) -%}
        {%- set next_nodes = nodes | selectattr('name', 'equalto', next_name) | list -%}
        {%- if next_nodes | length != 1 -%}
            {{ exceptions.raise_compiler_error('idstitch: ' ~ node.name ~ ' is published from model ' ~ next_name ~ ', which is missing') }}
        {%- endif -%}
        {#- a next table left by an earlier run holds that run's rows: publishing it again would
            apply them twice, and mark this run's pending copies finished unresolved -#}
        {%- if next_nodes[0].unique_id not in selected_resources -%}
            {{ exceptions.raise_compiler_error('idstitch: idstitch_batches publishes the rows this run computes in '
                ~ next_name ~ ', which this invocation does not build. Select the models it publishes too: '
                ~ '`dbt run --select +idstitch_batches` (or run everything).') }}
        {%- endif -%}
        {%- set next = api.Relation.create(database=next_nodes[0].database, schema=next_nodes[0].schema,
            identifier=next_nodes[0].alias, type='table') -%}
        {%- set existing = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
        {%- do changes.append({
            'target': api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias, type='table'),
            'existing': existing,
            'rows': next,
            'next': next,
            'kind': idstitch_published_delete_kind(meta),
            'replace': existing is none or (full and not keep_history)}) -%}
    {%- endfor -%}
    {{ return(changes) }}
{% endmacro %}

{#- what a run deletes from a published table before it inserts (see idstitch_delete_condition):
    its `idstitch_delete`; a table that keeps its history (lineage) and names, in
    `idstitch_erase_columns`, the columns that hold rudder_ids loses the rows that name a
    forgotten value's id while erasure requests exist (docs/semantics.md §3c) -#}
{% macro idstitch_published_delete_kind(meta) %}
    {%- if meta.get('idstitch_erase_columns') and idstitch_erasing() -%}
        {{ return('erased_ids:' ~ meta['idstitch_erase_columns'] | join(',')) }}
    {%- endif -%}
    {{ return(meta.get('idstitch_delete', 'nothing')) }}
{% endmacro %}


{#- the model whose rows a published table receives -#}
{% macro idstitch_next_model(name) %}
    {{- return('int_idstitch__next_' ~ name.replace('int_idstitch__', '')) -}}
{% endmacro %}


{#-
    DuckDB: every statement in dbt's transaction (`main` begins it), committed at the end. A
    replaced table is dropped and its next table renamed into place (DuckDB's DDL is
    transactional); the rest delete what the run replaces and insert the new rows.
-#}
{% macro duckdb__idstitch_publish_changes(changes) %}
    {%- set statements = [] -%}
    {%- for change in changes -%}
        {%- if change['dml'] is defined -%}
            {%- do statements.extend(change['dml']) -%}
        {%- elif change['replace'] and change['next'] is defined -%}
            {%- if change['existing'] is not none -%}
                {%- do statements.append('drop table ' ~ change['target']) -%}
            {%- endif -%}
            {%- do statements.append('alter table ' ~ change['next'] ~ ' rename to ' ~ adapter.quote(change['target'].identifier)) -%}
        {%- elif change['existing'] is none -%}
            {%- do statements.append('create table ' ~ change['target'] ~ ' as select * from ' ~ change['rows'] ~ ' as model_rows') -%}
        {%- else -%}
            {%- do statements.extend(idstitch_publish_dml(change, none)) -%}
        {%- endif -%}
    {%- endfor -%}
    {% call statement('idstitch_publish') -%}
        -- idstitch publishes run {{ idstitch_batch_id() }}
        {{ statements | join('\n;\n') }}
    {%- endcall %}
    {%- do adapter.commit() -%}
    {%- for change in changes if change['dml'] is not defined and change['replace'] and change['next'] is defined -%}
        {%- if change['existing'] is not none -%}
            {%- do adapter.cache_dropped(change['existing']) -%}
        {%- endif -%}
        {%- do adapter.cache_renamed(change['next'], change['target']) -%}
    {%- endfor -%}
{% endmacro %}


{#-
    Snowflake and BigQuery: every change that DML can make goes inside one transaction, in one
    request: an incremental run's deletes and inserts, and a full run's replacement of a table
    whose columns stay the same (all its rows deleted, the new ones inserted). DDL cannot join
    that transaction (Snowflake commits each DDL statement on its own; BigQuery runs none in a
    transaction), so a table that does not exist yet, or whose columns change in a full run (a
    trait added or dropped), is created or replaced before it, in one request of its own: each
    such replacement is atomic, but not together with the rest.
-#}
{% macro default__idstitch_publish_changes(changes) %}
    {%- set existing = changes | rejectattr('existing', 'none') | list -%}
    {%- set relations = existing | map(attribute='target') | list -%}
    {%- for change in existing if change['replace'] -%}
        {%- do relations.append(change['next']) -%}
    {%- endfor -%}
    {%- set columns = idstitch_table_columns(relations) -%}
    {%- set replacing = [] -%}
    {%- set changing = [] -%}
    {%- for change in changes -%}
        {%- set target_columns = columns.get(change['target'] | string) -%}
        {%- if change['dml'] is defined -%}
            {%- do changing.extend(change['dml']) -%}
        {%- elif change['existing'] is none or (change['replace']
                and target_columns != columns[change['next'] | string]) -%}
            {%- do replacing.append(idstitch_create_table_as(change['target'], 'select * from ' ~ change['rows'] ~ ' as model_rows')) -%}
        {%- else -%}
            {%- do changing.extend(idstitch_publish_dml(change, target_columns)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if replacing | length > 0 -%}
        {%- do idstitch_run_script(replacing, false) -%}
    {%- endif -%}
    {%- if changing | length > 0 -%}
        {%- do idstitch_run_script(idstitch_transaction(changing), false) -%}
    {%- endif -%}
{% endmacro %}

{#- a transaction around the statements, in the warehouse's words -#}
{% macro idstitch_transaction(statements) %}
    {{- return(adapter.dispatch('idstitch_transaction', 'idstitch')(statements)) -}}
{% endmacro %}

{% macro default__idstitch_transaction(statements) %}
    {{- return(['begin transaction'] + statements + ['commit']) -}}
{% endmacro %}

{% macro bigquery__idstitch_transaction(statements) %}
    {{- return(['begin transaction'] + statements + ['commit transaction']) -}}
{% endmacro %}


{#- a change to an existing table with these columns (none: matched by name, on DuckDB), as a
    list of DML statements: delete the rows the run replaces (all of them when the table is
    replaced), insert the new ones (one MERGE on BigQuery, see idstitch_merge_sql) -#}
{% macro idstitch_publish_dml(change, columns) %}
    {{- return(adapter.dispatch('idstitch_publish_dml', 'idstitch')(change, columns)) -}}
{% endmacro %}

{% macro default__idstitch_publish_dml(change, columns) %}
    {%- set condition = '1 = 1' if change['replace'] else idstitch_delete_condition(change['kind']) -%}
    {%- if columns is none -%}
        {#- DuckDB matches the columns by name itself -#}
        {%- set insert = 'insert into ' ~ change['target'] ~ ' by name select * from ' ~ change['rows'] ~ ' as next_rows' -%}
    {%- else -%}
        {%- set quoted = [] -%}
        {%- for column in columns -%}
            {%- do quoted.append(adapter.quote(column)) -%}
        {%- endfor -%}
        {%- set insert = 'insert into ' ~ change['target'] ~ ' (' ~ quoted | join(', ') ~ ') select '
            ~ quoted | join(', ') ~ ' from ' ~ change['rows'] ~ ' as next_rows' -%}
    {%- endif -%}
    {%- if condition is none -%}
        {{- return([insert]) -}}
    {%- endif -%}
    {{- return(['delete from ' ~ change['target'] ~ ' as target_rows where ' ~ condition, insert]) -}}
{% endmacro %}

{% macro bigquery__idstitch_publish_dml(change, columns) %}
    {%- set sql = 'select * from ' ~ change['rows'] ~ ' as next_rows' -%}
    {%- set condition = 'true' if change['replace'] else idstitch_delete_condition(change['kind'], form='in') -%}
    {#- the caller read the table's columns already (idstitch_table_columns) -#}
    {%- if condition is none -%}
        {{- return([idstitch_insert_sql(change['target'], sql, columns)]) -}}
    {%- endif -%}
    {{- return([idstitch_merge_sql(change['target'], sql, condition, columns)]) -}}
{% endmacro %}


{#- {relation as a string: its column names, in order} for existing tables -#}
{% macro idstitch_table_columns(relations) %}
    {{- return(adapter.dispatch('idstitch_table_columns', 'idstitch')(relations)) -}}
{% endmacro %}

{#- one query per table (on BigQuery an API call, not a job) -#}
{% macro default__idstitch_table_columns(relations) %}
    {%- set columns = {} -%}
    {%- for relation in relations -%}
        {%- do columns.update({relation | string: adapter.get_columns_in_relation(relation) | map(attribute='name') | list}) -%}
    {%- endfor -%}
    {{- return(columns) -}}
{% endmacro %}

{#-
    Snowflake: one query of the database's information_schema for every table, where dbt would
    send a `describe table` per table. In an incremental run, the first call also reads the
    columns of every table kept from run to run (idstitch_kept_tables), for the run: the kept
    tables' inserts and the publishing read no columns again. Their columns cannot change in
    such a run (a change of the models' columns comes with a change of the rules, and so with a
    full run, which reads them afresh).
-#}
{% macro snowflake__idstitch_table_columns(relations) %}
    {%- set cache = idstitch_run_cache() -%}
    {%- if 'kept_columns' not in cache and execute and not flags.FULL_REFRESH
            and not idstitch_run_cache().get('full_run', {'full': true})['full'] -%}
        {#- models run in parallel threads: two may read at once; each stores a whole answer -#}
        {%- set kept = {} -%}
        {%- for relation in idstitch_kept_tables() -%}
            {%- do kept.update({relation | string: relation}) -%}
        {%- endfor -%}
        {%- set found = idstitch_information_schema_columns(kept.values() | list) -%}
        {%- set by_key = {} -%}
        {%- for name, relation in kept.items() -%}
            {%- do by_key.update({idstitch_table_key(relation): found[name]}) -%}
        {%- endfor -%}
        {%- do cache.update({'kept_columns': by_key}) -%}
    {%- endif -%}
    {%- set known = cache.get('kept_columns', {}) -%}
    {%- set columns = {} -%}
    {%- set unknown = [] -%}
    {%- for relation in relations -%}
        {%- if (relation.database | upper) == (target.database | upper) and idstitch_table_key(relation) in known -%}
            {%- do columns.update({relation | string: known[idstitch_table_key(relation)]}) -%}
        {%- else -%}
            {%- do unknown.append(relation) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do columns.update(idstitch_information_schema_columns(unknown)) -%}
    {{- return(columns) -}}
{% endmacro %}

{#- SCHEMA.TABLE, upper case, as information_schema names a table of the target's database -#}
{% macro idstitch_table_key(relation) %}
    {{- return((relation.schema ~ '.' ~ relation.identifier) | upper) -}}
{% endmacro %}

{#- the existing tables of the target's database kept from run to run (idstitch_kept_nodes) -#}
{% macro idstitch_kept_tables() %}
    {%- set kept = [] -%}
    {%- for node in idstitch_kept_nodes() -%}
        {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
        {%- if relation is not none and (node.database | upper) == (target.database | upper) -%}
            {%- do kept.append(relation) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(kept) -}}
{% endmacro %}

{#- {relation as a string: its column names, in order}, from one information_schema query -#}
{% macro idstitch_information_schema_columns(relations) %}
    {%- if relations | length == 0 -%}
        {{- return({}) -}}
    {%- endif -%}
    {%- if relations | map(attribute='database') | unique | list | length > 1 -%}
        {{- return(default__idstitch_table_columns(relations)) -}}
    {%- endif -%}
    {%- set names = {} -%}
    {%- set keys = [] -%}
    {%- for relation in relations -%}
        {%- set key = idstitch_table_key(relation) -%}
        {%- do names.update({key: relation | string}) -%}
        {%- do keys.append(idstitch_literal(key)) -%}
    {%- endfor -%}
    {%- set table_key = "upper(table_schema) || '.' || upper(table_name)" -%}
    {%- set found = run_query('select ' ~ table_key ~ ', column_name from ' ~ relations[0].database
        ~ '.information_schema.columns where ' ~ table_key ~ ' in (' ~ keys | join(', ') ~ ') order by 1, ordinal_position') -%}
    {%- set columns = {} -%}
    {%- for row in found.rows -%}
        {%- do columns.setdefault(names[row[0]], []).append(row[1]) -%}
    {%- endfor -%}
    {%- for relation in relations if (relation | string) not in columns -%}
        {{ exceptions.raise_compiler_error('idstitch: no columns found for ' ~ relation ~ ' in information_schema.columns') }}
    {%- endfor -%}
    {{- return(columns) -}}
{% endmacro %}
