{#-
    Materialization `idstitch_incremental`: the caches of raw copies idstitch keeps from run to
    run (the marts and the state are published by idstitch_batches: see idstitch_publish).

    A full run replaces the table with the model's rows. A full run is the first run, a run
    with `--full-refresh`, or a run whose rules differ from the last finished run's
    (idstitch_full_run). An incremental run replaces the rows that config `idstitch_delete`
    names in its meta (a kind understood by idstitch_delete_condition) with the model's rows
    (idstitch_replace_rows): the table never shows half a change.
-#}

{% materialization idstitch_incremental, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- if idstitch_nothing_to_do() -%}
        {{ return(idstitch_keep_as_is(target_relation)) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- set meta = config.get('meta') or {} -%}
    {%- set replace = existing is none or idstitch_full_run() -%}

    {{ run_hooks(pre_hooks) }}
    {%- if replace -%}
        {% call statement('main') -%}
            {{ idstitch_create_table_as(target_relation, sql) }}
        {%- endcall %}
    {%- else -%}
        {%- do idstitch_replace_rows(target_relation, sql, meta.get('idstitch_delete', 'nothing')) -%}
    {%- endif -%}
    {{ run_hooks(post_hooks) }}
    {% do adapter.commit() %}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#-
    An incremental run's change to a kept table: delete the rows of kind `kind` (alias
    `target_rows`, see idstitch_delete_condition), then insert the model's rows. The statement
    that inserts is dbt's `main`.
-#}
{% macro idstitch_replace_rows(relation, sql, kind) %}
    {{- return(adapter.dispatch('idstitch_replace_rows', 'idstitch')(relation, sql, kind)) -}}
{% endmacro %}

{#- DuckDB, Snowflake: DELETE ... WHERE EXISTS, then INSERT, in the transaction dbt commits after
    the materialization -#}
{% macro default__idstitch_replace_rows(relation, sql, kind) %}
    {%- set condition = idstitch_delete_condition(kind) -%}
    {%- if condition is not none -%}
        {% call statement('idstitch_delete') -%}
            delete from {{ relation }} as target_rows where {{ condition }}
        {%- endcall %}
    {%- endif -%}
    {% call statement('main') -%}
        {{ idstitch_insert_sql(relation, sql) }}
    {%- endcall %}
{% endmacro %}

{#-
    Snowflake: dbt-snowflake runs in autocommit, so a DELETE and an INSERT sent one after the
    other would each commit on their own, and a reader could see the table between them. Here
    they go inside an explicit transaction, as one Snowflake Scripting block (one request; see
    idstitch_run_script), or, with Scripting turned off, as four statements.
-#}
{% macro snowflake__idstitch_replace_rows(relation, sql, kind) %}
    {%- set condition = idstitch_delete_condition(kind) -%}
    {%- if condition is none -%}
        {% call statement('main') -%}
            {{ idstitch_insert_sql(relation, sql) }}
        {%- endcall %}
    {%- else -%}
        {#- the dispatch itself, not idstitch_run_script: that one counts requests for the loops'
            logs, and this model may run beside a loop -#}
        {%- do adapter.dispatch('idstitch_run_script', 'idstitch')([
            'begin transaction',
            'delete from ' ~ relation ~ ' as target_rows where ' ~ condition,
            idstitch_insert_sql(relation, sql),
            'commit'], false) -%}
        {%- call noop_statement('main', 'OK (rows replaced)', 'OK', -1) -%}{%- endcall -%}
    {%- endif -%}
{% endmacro %}

{#-
    BigQuery: one MERGE that deletes and inserts. Two statements would be two jobs, and a run
    that dies between them would leave the table without its old rows; one DML statement
    applies whole or not at all. `on false` matches nothing, so every target row is "not
    matched by source" (deleted when it is one of the rows to replace) and every model row is
    "not matched" (inserted), the form dbt-bigquery uses for insert_overwrite. The condition is
    written with uncorrelated IN subqueries on one key column (idstitch_delete_condition's
    `in` form), not with correlated EXISTS, which BigQuery's MERGE may refuse.
-#}
{% macro bigquery__idstitch_replace_rows(relation, sql, kind) %}
    {%- set condition = idstitch_delete_condition(kind, form='in') -%}
    {% call statement('main') -%}
        {%- if condition is none -%}
            {{ idstitch_insert_sql(relation, sql) }}
        {%- else -%}
            {{ idstitch_merge_sql(relation, sql, condition) }}
        {%- endif -%}
    {%- endcall %}
{% endmacro %}

{#- BigQuery's one statement that deletes the rows `condition` names (alias target_rows) and
    inserts the query's rows -#}
{% macro idstitch_merge_sql(relation, sql, condition, names=none) %}
    {%- set columns = idstitch_quoted_columns(relation, names) -%}
merge into {{ relation }} as target_rows
using (
{{ sql }}
) as model_rows
on false
when not matched by source and ({{ condition }}) then delete
when not matched then insert ({{ columns | join(', ') }}) values ({{ columns | join(', ') }})
{%- endmacro %}


{#- insert a query's rows into a table, column by name -#}
{% macro idstitch_insert_sql(relation, sql, names=none) %}
    {{- return(adapter.dispatch('idstitch_insert_sql', 'idstitch')(relation, sql, names)) -}}
{% endmacro %}

{#- the columns of a table, quoted: `names` when the caller has read them, else the table's -#}
{% macro idstitch_quoted_columns(relation, names=none) %}
    {%- if names is none -%}
        {%- set names = idstitch_table_columns([relation])[relation | string] -%}
    {%- endif -%}
    {%- set columns = [] -%}
    {%- for name in names -%}
        {%- do columns.append(adapter.quote(name)) -%}
    {%- endfor -%}
    {{- return(columns) -}}
{% endmacro %}

{% macro default__idstitch_insert_sql(relation, sql, names=none) %}
    {%- set columns = idstitch_quoted_columns(relation, names) -%}
insert into {{ relation }} ({{ columns | join(', ') }})
select {{ columns | join(', ') }} from ({{ sql }}) as model_rows
{%- endmacro %}

{#- DuckDB matches the columns by name itself: no query for the table's columns -#}
{% macro duckdb__idstitch_insert_sql(relation, sql, names=none) %}
insert into {{ relation }} by name
select * from ({{ sql }}) as model_rows
{%- endmacro %}


{#-
    Whether this run rebuilds everything. Decided from the table idstitch_batches, which the
    last model of a run appends to: no finished run yet, `--full-refresh`, or rules that differ
    from those of the last finished run (the idstitch var without its caps, and the never-merge
    seed). The same answer holds for every model of a run, since idstitch_batches only changes
    at its very end.
-#}
{% macro idstitch_full_run() %}
    {#- while dbt parses, models render their incremental form: it names every model they read;
        `dbt compile --no-introspect` renders it too, without a query -#}
    {%- if not execute or not flags.INTROSPECT -%}
        {{ return(false) }}
    {%- endif -%}
    {#- a unit test checks a model's full-run form, on its given rows only -#}
    {%- if flags.FULL_REFRESH or model.resource_type == 'unit_test' -%}
        {{ return(true) }}
    {%- endif -%}
    {#- the answer is the same for every model of the run: the first model to ask computes it -#}
    {%- set cache = idstitch_run_cache() -%}
    {%- if 'full_run' not in cache -%}
        {%- do cache.update({'full_run': idstitch_full_run_decision()}) -%}
    {%- endif -%}
    {%- set decision = cache['full_run'] -%}
    {%- if decision['message'] is not none and model.name == 'int_idstitch__event_copies' -%}
        {{ log(decision['message'], info=true) }}
    {%- endif -%}
    {#- with profile erasures, the models after int_idstitch__event_copies also rebuild everything
        when a new raw row may change an erased profile (idstitch_profile_erasure_hit) -#}
    {%- if not decision['full'] and model.name != 'int_idstitch__event_copies' and model.resource_type == 'model'
            and idstitch_profile_erasing() and idstitch_depends_on(model.unique_id, 'int_idstitch__event_copies') -%}
        {#- models may run in parallel threads: two may ask at once, and get the same answer -#}
        {%- if 'profile_erasure_hit' not in cache -%}
            {%- do cache.update({'profile_erasure_hit': idstitch_profile_erasure_hit()}) -%}
        {%- endif -%}
        {{ return(cache['profile_erasure_hit']) }}
    {%- endif -%}
    {{ return(decision['full']) }}
{% endmacro %}


{#- whether a request of scope profile is among the erasure requests (docs/semantics.md §3c) -#}
{% macro idstitch_profile_erasing() %}
    {{- return('profile' in idstitch_erasure_requests()['scopes']) -}}
{% endmacro %}


{#-
    Whether this incremental run must rebuild every table after int_idstitch__event_copies
    because of a profile erasure (docs/semantics.md §3c): a pending raw copy carries a value of
    the partition of an erased profile (int_idstitch__erased_profiles, is_watched), which may
    change that profile, or is a new copy of an event rejected `erased`, which may change which
    copy is the event. Staging keeps no erased value, so it is rebuilt too: the raw rows are read
    again. One query, over the pending raw rows only. Logs why when it answers yes.
-#}
{% macro idstitch_profile_erasure_hit() %}
    {%- set erased = idstitch_state_relation('int_idstitch__erased_profiles') -%}
    {%- set rejected = idstitch_state_relation('idstitch_rejected_events') -%}
    {%- set batches = idstitch_state_relation('idstitch_batches') -%}
    {%- if erased is none or rejected is none or batches is none -%}
        {{ log('idstitch: erasure requests of scope profile, and no erased profile recorded yet: this run rebuilds every table after int_idstitch__event_copies', info=true) }}
        {{ return(true) }}
    {%- endif -%}
    {%- set config = idstitch_config() -%}
    {%- set copies = idstitch_state_relation('int_idstitch__event_copies') -%}
    {#- a source whose raw table is gone has no pending row -#}
    {%- set sources = idstitch_existing_sources(config['event_sources']) -%}
    {%- set cells = [] -%}
    {%- for cell in idstitch_identifier_cells(config) -%}
        {%- for s, relation in sources if s['name'] ~ '__rows' == cell['rows'] -%}
            {%- do cells.append(cell) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if cells | length == 0 -%}
        {{ return(false) }}
    {%- endif -%}
    {#- the raw rows that may hold pending copies (see idstitch_source_rows), found without
        asking idstitch_pending_batches, which asks idstitch_full_run -#}
    {%- set pending_condition = 'copies.batch_id not in (select finished.batch_id from ' ~ batches ~ ' as finished)' -%}
    {%- set bounds = idstitch_load_bounds(copies, 'min', pending_condition) -%}
    {%- set query -%}
with
{% for s, relation in sources %}
{{ s['name'] }}__rows as (
    {{ idstitch_source_rows(s, loaded_since=bounds[s['name']], relation=relation) }}
),
{% endfor %}
pending as (
    select source, event_id, occurred_at, fingerprint
    from {{ copies }} as copies
    where {{ pending_condition }}
),

cells as (
    {%- for cell in cells %}
    select source, event_id, occurred_at, fingerprint, {{ cell['id_type'] }} as id_type,
        {{ idstitch_trim(cell['value']) }} as trimmed_value
    from {{ cell['rows'] }}
    where {{ cell['value'] }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

id_types as (
    {{ idstitch_id_types_rows(config) }}
)

select
    (
        select count(*) from cells
        inner join pending
            on cells.source = pending.source and cells.event_id = pending.event_id
            and cells.occurred_at = pending.occurred_at and cells.fingerprint = pending.fingerprint
        inner join id_types
            on cells.id_type = id_types.id_type
        where {{ idstitch_erasure_digest(idstitch_md5("cells.id_type || ':' || " ~ idstitch_normalize_value('cells.trimmed_value', 'id_types.normalize_rule', config['default_phone_country_code']))) }}
            in (select watched.digest from {{ erased }} as watched where watched.is_watched)
    ) as watched_values,
    (
        select count(*) from pending
        inner join {{ rejected }} as rejected
            on pending.source = rejected.source and pending.event_id = rejected.event_id
        where rejected.reason = 'erased'
    ) as erased_copies
    {%- endset -%}
    {%- set found = run_query(query) -%}
    {%- set hits = [found.rows[0][0] | int, found.rows[0][1] | int] -%}
    {%- if hits | sum == 0 -%}
        {{ return(false) }}
    {%- endif -%}
    {{ log('idstitch: ' ~ (hits[0] ~ ' new raw value(s) belong to the partition of an erased profile' if hits[0] > 0 else hits[1]
        ~ ' new raw copy(ies) of an event rejected as erased') ~ ' (docs/semantics.md §3c): this run rebuilds every table after'
        ~ ' int_idstitch__event_copies, staging included', info=true) }}
    {{ return(true) }}
{% endmacro %}

{#-
    Whether this model has nothing to do: an incremental run in which no raw copy is pending
    (none new, none left by a run that did not finish), so every table after
    int_idstitch__event_copies would come out as it is. Such a model keeps its table and sends
    no statement. The exceptions: idstitch_batches, which records the run; a model whose table
    does not exist yet (but for the int_idstitch__next_* models, whose rows are not published in
    such a run); and the models that do not depend on int_idstitch__event_copies (they may run
    before it has looked for new rows). Asked by the idstitch materializations.
-#}
{% macro idstitch_nothing_to_do() %}
    {%- if not execute or not flags.INTROSPECT or model.resource_type != 'model'
        or model.name in ['int_idstitch__event_copies', 'idstitch_batches'] -%}
        {{ return(false) }}
    {%- endif -%}
    {#- false for the models that do not depend on int_idstitch__event_copies (idstitch_pending_batches) -#}
    {%- if not idstitch_nothing_new() -%}
        {{ return(false) }}
    {%- endif -%}
    {#- a count of raw rows that this run had to check key by key is recorded again, so that the
        next run can trust it (idstitch_deleted_rows) -#}
    {%- if model.name == 'int_idstitch__raw_row_counts' and idstitch_run_cache().get('raw_row_counts_stale', false) -%}
        {{ return(false) }}
    {%- endif -%}
    {#- the rows a run publishes (int_idstitch__next_*) are not needed when it publishes nothing,
        whether or not their table is still there (DuckDB renames it into place) -#}
    {%- if model.name.startswith(idstitch_next_model('')) -%}
        {{ return(true) }}
    {%- endif -%}
    {{ return(adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) is not none) }}
{% endmacro %}


{#- the end of a materialization with nothing to do: the table stays, no statement is sent -#}
{% macro idstitch_keep_as_is(relation) %}
    {%- call noop_statement('main', 'KEPT (nothing new)', 'KEPT', 0) -%}{%- endcall -%}
    {{ return({'relations': [relation]}) }}
{% endmacro %}


{#- an incremental run with no pending raw copy (asked after int_idstitch__event_copies ran) -#}
{% macro idstitch_nothing_new() %}
    {%- set pending = idstitch_pending_batches() -%}
    {{ return(pending is not none and pending | length == 0) }}
{% endmacro %}


{#-
    The batches of the copies no finished run has taken into account, as a list: this run's, if
    it found new copies, and those of runs that did not finish. Read once per run, from
    int_idstitch__event_copies, by the first model after it that asks, with the earliest load
    time of each source's pending copies (kept for idstitch_source_rows);
    none where the answer is not known yet (a full run, a model that does not depend on
    int_idstitch__event_copies, parsing).
-#}
{% macro idstitch_pending_batches() %}
    {#- the dependency first: a model before int_idstitch__event_copies does not ask the run's
        opening questions (idstitch_full_run), so two staging models starting together in two
        threads do not both send them -#}
    {%- if not execute or not flags.INTROSPECT or model.resource_type != 'model'
        or not idstitch_depends_on(model.unique_id, 'int_idstitch__event_copies') or idstitch_full_run() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set cache = idstitch_run_cache() -%}
    {%- if 'pending_batches' not in cache -%}
        {%- set copies = idstitch_state_relation('int_idstitch__event_copies') -%}
        {%- set batches = idstitch_state_relation('idstitch_batches') -%}
        {#- with the earliest load time of each source's pending copies (idstitch_source_rows reads
            the raw rows from there on), in the same query -#}
        {%- set pending = run_query('select distinct copies.batch_id, copies.source, '
            ~ idstitch_to_string('min(copies.loaded_at) over (partition by copies.source)') ~ ' as bound from '
            ~ copies ~ ' as copies where copies.batch_id not in (select finished.batch_id from ' ~ batches
            ~ ' as finished) order by 1, 2') -%}
        {%- set ids = pending.columns[0].values() | unique | list -%}
        {%- set bounds = [] -%}
        {%- for row in pending.rows -%}
            {%- do bounds.append([row[1], row[2]]) -%}
        {%- endfor -%}
        {%- do cache.update({'pending_load_bounds': idstitch_literal_load_bounds(bounds)}) -%}
        {%- if ids | length == 0 -%}
            {{ log('idstitch: no new raw rows since the last finished run: every table stays as it is, and the run is recorded in idstitch_batches', info=true) }}
        {%- endif -%}
        {%- do cache.update({'pending_batches': ids}) -%}
    {%- endif -%}
    {{ return(cache['pending_batches']) }}
{% endmacro %}


{#- whether a node depends, directly or not, on the model named `name` -#}
{% macro idstitch_depends_on(unique_id, name) %}
    {%- set seen = [] -%}
    {%- set queue = [unique_id] -%}
    {%- for _ in range(graph.nodes | length + 1) if queue | length > 0 -%}
        {%- set current = queue.pop() -%}
        {%- set node = graph.nodes.get(current) -%}
        {%- if node is not none and current not in seen -%}
            {%- do seen.append(current) -%}
            {%- for parent in node.depends_on.nodes -%}
                {%- if parent.split('.')[-1] == name and parent.startswith('model.') -%}
                    {{ return(true) }}
                {%- endif -%}
                {%- do queue.append(parent) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{% endmacro %}


{#-
    {'full': whether this run rebuilds everything, 'message': why, when it does}. An incremental
    run needs every kept table of the last finished run: if one is missing (dropped by hand, or
    with the target schema while idstitch_batches was kept elsewhere), the run fails here, before
    it writes anything, rather than recreate that table from this run's rows only.
-#}
{% macro idstitch_full_run_decision() %}
    {%- set batches = idstitch_state_relation('idstitch_batches') -%}
    {%- if batches is none -%}
        {{ return({'full': true, 'message': 'idstitch: no finished run in ' ~ target.schema
            ~ ' (a first run, or its tables were dropped): this run builds every table from all raw events'}) }}
    {%- endif -%}
    {#- one query asks the last run's rules hash, the rows of the rule relations (cached for the
        run, idstitch_rule_rows), the sources' watermarks and what shows rows deleted upstream -#}
    {%- set answers = idstitch_run_start_answers(batches) -%}
    {%- if answers['last_hash'] | length == 0 -%}
        {{ return({'full': true, 'message': none}) }}
    {%- endif -%}
    {%- set current = idstitch_rules_hash() -%}
    {%- set last = answers['last_hash'][0][0] -%}
    {%- if last != current -%}
        {#- the same rules under an earlier layout: the kept tables were written by an earlier release -#}
        {%- for version in range(1, idstitch_state_version()) if idstitch_rules_hash(version) == last -%}
            {{ return({'full': true, 'message': 'idstitch: the tables kept from run to run have an earlier layout (state version '
                ~ version ~ ' -> ' ~ idstitch_state_version() ~ ', written by an earlier release of idstitch): this run rebuilds'
                ~ ' every table from all raw events'}) }}
        {%- endfor -%}
        {{ return({'full': true, 'message': 'idstitch: the rules changed since the last finished run (rules hash '
            ~ last ~ ' -> ' ~ current ~ '): this run rebuilds every table from all raw events'}) }}
    {%- endif -%}
    {%- set missing = idstitch_missing_kept_tables() -%}
    {%- if missing | length > 0 -%}
        {{ exceptions.raise_compiler_error('idstitch: ' ~ missing | join(', ') ~ (' is' if missing | length == 1 else ' are')
            ~ ' missing, though ' ~ batches ~ ' records finished runs: a table kept from run to run was dropped,'
            ~ ' so this run cannot add to it. Rebuild every table from all raw events: `idstitch run --full-refresh`'
            ~ ' (or `dbt build --full-refresh`).') }}
    {%- endif -%}
    {%- set gone = [] if answers['copies'] is none else idstitch_deleted_rows(answers['answers'], answers['copies']) -%}
    {%- if gone | length > 0 -%}
        {%- set named = [] -%}
        {%- for row in gone -%}
            {%- do named.append(row[0] ~ ' (' ~ row[1] ~ ')') -%}
        {%- endfor -%}
        {{ return({'full': true, 'message': 'idstitch: raw rows read by earlier runs are gone from ' ~ named | join(', ')
            ~ ' (deleted upstream): this run rebuilds every table from the raw rows as they are now'}) }}
    {%- endif -%}
    {{ return({'full': false, 'message': none}) }}
{% endmacro %}


{#-
    The questions an incremental run asks when it starts, in one query: the last finished run's
    rules hash ('last_hash': [[hash]], none when no run finished), the rows of the rule relations
    (unless another model of the run read them already; idstitch_rule_rows keeps them for the
    run), the sources' watermarks (kept for idstitch_copies_watermarks) and what shows rows
    deleted upstream (idstitch_deleted_rows_parts; 'answers' and 'copies' are for
    idstitch_deleted_rows). The watermarks and the counts are read whatever the hash says: the
    hash rarely changes, and a second request would cost more.
-#}
{% macro idstitch_run_start_answers(batches) %}
    {%- set parts = [idstitch_part_sql('last_hash', ['rules_hash'],
        batches ~ ' where run_number = (select max(run_number) from ' ~ batches ~ ')')] -%}
    {%- set cache = idstitch_run_cache() -%}
    {%- set rule_parts = [] if 'rule_rows' in cache else idstitch_rule_rows_sql() -%}
    {%- do parts.extend(rule_parts) -%}
    {%- set copies = idstitch_state_relation('int_idstitch__event_copies') -%}
    {#- the watermarks are those the last run kept with its counts (int_idstitch__raw_row_counts),
        which saves a pass over every copy; without that table, the copies' latest load times -#}
    {%- set counted = idstitch_state_relation('int_idstitch__raw_row_counts') -%}
    {%- if copies is not none and counted is none -%}
        {%- do parts.append(idstitch_part_sql('watermark', ['copies.source', 'max(copies.loaded_at)'],
            copies ~ ' as copies group by copies.source')) -%}
    {%- endif -%}
    {%- if copies is not none -%}
        {%- do parts.extend(idstitch_deleted_rows_parts(copies, counted)) -%}
    {%- endif -%}
    {%- set out = idstitch_part_rows(parts, {'last_hash': [], 'gone': [], 'never_merge': [], 'erasures': [], 'watermark': [],
        'total': [], 'counted': []}) -%}
    {%- if counted is not none -%}
        {%- for row in out['counted'] -%}
            {%- do out['watermark'].append([row[0], row[1]]) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if copies is not none -%}
        {%- do cache.update({'copies_watermarks': idstitch_literal_load_bounds(out['watermark'], idstitch_no_watermark())}) -%}
    {%- endif -%}
    {%- if rule_parts | length > 0 -%}
        {%- do cache.update({'rule_rows': {'never_merge': out['never_merge'], 'erasures': out['erasures']}}) -%}
    {%- endif -%}
    {{ return({'last_hash': out['last_hash'], 'answers': out, 'copies': copies}) }}
{% endmacro %}


{#-
    The watermark of each source in `copies` (int_idstitch__event_copies) for an incremental run:
    its latest loaded_at so far, as a literal (idstitch_load_bounds). Asked with the run's
    opening questions (idstitch_run_start_answers), before the model that reads it writes
    anything; read on its own when those were not asked.
-#}
{% macro idstitch_copies_watermarks(copies) %}
    {%- set cache = idstitch_run_cache() -%}
    {%- if 'copies_watermarks' in cache -%}
        {{ return(cache['copies_watermarks']) }}
    {%- endif -%}
    {{ return(idstitch_load_bounds(copies, 'max', if_none=idstitch_no_watermark())) }}
{% endmacro %}

{#- the watermark of a source with no loaded copy yet: before any load time -#}
{% macro idstitch_no_watermark() %}{{ return('0001-01-01 00:00:00') }}{% endmacro %}


{#- the models whose tables are kept from run to run: the staging caches, the state
    (idstitch_batches among it), the marts -#}
{% macro idstitch_kept_nodes() %}
    {%- set kept = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model'
            and node.config.materialized in ['idstitch_incremental', 'idstitch_published', 'idstitch_publish'] -%}
        {%- do kept.append(node) -%}
    {%- endfor -%}
    {{ return(kept) }}
{% endmacro %}

{#- the tables kept from run to run that do not exist in the warehouse -#}
{% macro idstitch_missing_kept_tables() %}
    {%- set missing = [] -%}
    {%- for node in idstitch_kept_nodes() -%}
        {%- if adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) is none -%}
            {%- do missing.append(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) | string) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(missing | sort) }}
{% endmacro %}


{#-
    The layout of the tables kept from run to run (their columns and what their rows mean).
    Raise it with every change that a table written by an earlier release cannot serve: the
    first run after the upgrade then rebuilds every table from all raw events and says why
    (docs/incremental.md, "Upgrading"). 1 is the layout before this number existed.
    2: int_idstitch__event_copies records has_earlier_copy.
-#}
{% macro idstitch_state_version() %}{{ return(2) }}{% endmacro %}


{#- md5 of everything that decides results: the idstitch var (caps aside), the never-merge pairs
    and the erasure requests (a new request makes a full run, which rebuilds every table
    without the erased data, docs/semantics.md §3c), and the kept tables' layout
    (idstitch_state_version) from version 2 on; `version` asks the hash an earlier release
    would have recorded for the same rules -#}
{% macro idstitch_rules_hash(version=none) %}
    {%- set version = idstitch_state_version() if version is none else version -%}
    {%- set config = idstitch_config() -%}
    {%- set rules = {} -%}
    {%- for key, value in config.items() if key not in ['max_iterations', 'max_resolution_rounds'] -%}
        {%- do rules.update({key: value}) -%}
    {%- endfor -%}
    {%- set parts = [tojson(rules, sort_keys=true)] -%}
    {%- if execute and flags.INTROSPECT -%}
        {%- for row in idstitch_rule_rows()['never_merge'] -%}
            {%- do parts.append(row | join('\x1e')) -%}
        {%- endfor -%}
        {%- for request in idstitch_erasure_requests()['rows'] -%}
            {%- do parts.append(request | join('\x1e')) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if version > 1 -%}
        {%- do parts.append('state_version:' ~ version) -%}
    {%- endif -%}
    {{ return(local_md5(parts | join('\x1f'))) }}
{% endmacro %}


{#-
    The rows of the rule relations the rules hash covers, read once per run in one query: the
    never-merge pairs (pair_id, id1_type, id1_value, id2_type, id2_value) and the erasure
    requests (erasure_id, id_type, id_value, id_hash, scope), each as trimmed strings (or none),
    in a stable order. A relation not loaded yet (`dbt compile` on a new target, the linter)
    counts as empty. Returns {'never_merge': [...], 'erasures': [...]}.
-#}
{% macro idstitch_rule_rows() %}
    {%- set cache = idstitch_run_cache() -%}
    {%- if 'rule_rows' in cache -%}
        {{ return(cache['rule_rows']) }}
    {%- endif -%}
    {%- set out = idstitch_part_rows(idstitch_rule_rows_sql(), {'never_merge': [], 'erasures': []}) -%}
    {%- do cache.update({'rule_rows': out}) -%}
    {{ return(out) }}
{% endmacro %}

{#- runs the selects `parts` of (part, c1 .. c5) as one query, in a stable order, and appends
    each row's values (trimmed strings, or none) to out[part] -#}
{% macro idstitch_part_rows(parts, out) %}
    {%- if parts | length > 0 -%}
        {%- set found = run_query(parts | join(' union all ') ~ ' order by 1, 2, 3, 4, 5, 6') -%}
        {%- for row in found.rows -%}
            {%- set values = [] -%}
            {%- for i in range(1, row | length) -%}
                {%- do values.append(none if row[i] is none else (row[i] | string | trim)) -%}
            {%- endfor -%}
            {%- do out[row[0]].append(values) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(out) }}
{% endmacro %}

{#- the rule relations that exist, as selects of (part, c1 .. c5) to union -#}
{% macro idstitch_rule_rows_sql() %}
    {%- set config = idstitch_config() -%}
    {%- set parts = [] -%}
    {%- for part, columns in [
            ('never_merge', ['pair_id', 'id1_type', 'id1_value', 'id2_type', 'id2_value']),
            ('erasures', ['erasure_id', 'id_type', 'id_value', 'id_hash', 'scope'])] -%}
        {%- set relation = idstitch_existing_relation(config[part]) -%}
        {%- if relation is not none -%}
            {%- do parts.append(idstitch_part_sql(part, columns, relation | string)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(parts) }}
{% endmacro %}

{#- `select '<part>' as part, c1 .. c5 from <from_sql>` for idstitch_part_rows: the expressions
    `values` as strings, the columns they leave as typed nulls -#}
{% macro idstitch_part_sql(part, values, from_sql) %}
    {%- set columns = [] -%}
    {%- for i in range(5) -%}
        {%- do columns.append((idstitch_to_string(values[i]) if i < values | length else 'cast(null as ' ~ dbt.type_string() ~ ')')
            ~ ' as c' ~ (i + 1)) -%}
    {%- endfor -%}
    {{ return('select ' ~ idstitch_literal(part) ~ ' as part, ' ~ columns | join(', ') ~ ' from ' ~ from_sql) }}
{% endmacro %}


{#-
    The erasure requests (docs/semantics.md §3c), read once per run and checked: each row names a
    value by id_type and id_value, or by id_hash (32 hex digits), and its scope is identifier
    (or empty) or profile. A row that cannot be applied fails the run, naming its erasure_id:
    an erasure is never skipped. Returns {'rows': [[erasure_id, id_type, id_value, id_hash,
    scope], ...] in a stable order, 'scopes': the scopes present}; no rows while dbt parses or
    before the relation exists.
-#}
{% macro idstitch_erasure_requests() %}
    {%- set cache = idstitch_run_cache() -%}
    {%- if 'erasures' in cache -%}
        {{ return(cache['erasures']) }}
    {%- endif -%}
    {%- set out = {'rows': [], 'scopes': []} -%}
    {%- set config = idstitch_config() -%}
    {#- a unit test renders its model on its given rows only, with no graph to look in -#}
    {%- set reading = execute and flags.INTROSPECT and model.resource_type != 'unit_test' -%}
    {%- set relation = idstitch_existing_relation(config['erasures']) if reading else none -%}
    {%- if relation is not none -%}
        {%- for values in idstitch_rule_rows()['erasures'] -%}
            {%- set erasure_id, id_type, id_value, id_hash, scope = values -%}
            {%- set where = 'idstitch: erasure request `' ~ erasure_id ~ '` in ' ~ relation ~ ' cannot be applied: ' -%}
            {%- set scope = (scope or 'identifier') | lower -%}
            {%- if scope not in ['identifier', 'profile'] -%}
                {{ exceptions.raise_compiler_error(where ~ 'scope must be identifier or profile, got ' ~ values[4]) }}
            {%- endif -%}
            {%- if id_hash -%}
                {%- if not modules.re.match('^[0-9a-f]{32}$', id_hash | lower) -%}
                    {{ exceptions.raise_compiler_error(where ~ 'id_hash must be 32 hexadecimal digits (the md5 of `id_type:value`), got ' ~ id_hash) }}
                {%- endif -%}
            {%- elif id_value -%}
                {%- if (id_type or '') | lower not in config['types_by_name'] -%}
                    {{ exceptions.raise_compiler_error(where ~ 'unknown identifier type `' ~ id_type ~ '`; configured types are: ' ~ config['types_by_name'].keys() | join(', ')) }}
                {%- endif -%}
            {%- else -%}
                {{ exceptions.raise_compiler_error(where ~ 'give id_type and id_value, or id_hash') }}
            {%- endif -%}
            {%- if erasure_id is none -%}
                {{ exceptions.raise_compiler_error('idstitch: an erasure request in ' ~ relation ~ ' has no erasure_id') }}
            {%- endif -%}
            {%- do out['rows'].append([erasure_id, id_type, id_value, id_hash, scope]) -%}
            {%- if scope not in out['scopes'] -%}
                {%- do out['scopes'].append(scope) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if reading -%}
        {%- do cache.update({'erasures': out}) -%}
    {%- endif -%}
    {{ return(out) }}
{% endmacro %}


{#-
    The relation a configured {source, ref} names, or none if it does not exist (yet). Found in
    dbt's graph rather than through ref()/source(), which a model may only call for what it
    declares it depends on.
-#}
{% macro idstitch_existing_relation(relation) %}
    {%- set found = [] -%}
    {%- if relation['source'] is not none -%}
        {%- set source_name, table = relation['source'].split('.') -%}
        {%- for node in graph.sources.values() if node.source_name == source_name and node.name == table -%}
            {%- do found.append(node) -%}
        {%- endfor -%}
    {%- else -%}
        {%- for node in graph.nodes.values() if node.resource_type in ['seed', 'model', 'snapshot'] and node.name == relation['ref'] -%}
            {%- do found.append(node) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if found | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = found[0] -%}
    {{ return(adapter.get_relation(database=node.database, schema=node.schema,
        identifier=node.identifier if relation['source'] is not none else node.alias)) }}
{% endmacro %}


{#- [(source config, its relation)] for the configured sources whose raw relation exists (with
    `skip_append_only`, but those declared append_only) -#}
{% macro idstitch_existing_sources(sources, skip_append_only=false) %}
    {%- set found = [] -%}
    {%- for s in sources if not (skip_append_only and s.get('append_only', false)) -%}
        {%- set relation = idstitch_existing_relation(s) -%}
        {%- if relation is not none -%}
            {%- do found.append((s, relation)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(found) -}}
{% endmacro %}


{#- a table idstitch keeps in the target schema, or none if it does not exist (yet) -#}
{% macro idstitch_state_relation(identifier) %}
    {#- a unit test's `this` has no schema: its model lives in the target schema like the others -#}
    {%- set database = target.database if this.database is undefined else this.database -%}
    {%- set schema = target.schema if this.schema is undefined else this.schema -%}
    {%- if not execute or not flags.INTROSPECT -%}
        {{ return(api.Relation.create(database=database, schema=schema, identifier=identifier)) }}
    {%- endif -%}
    {{ return(adapter.get_relation(database=database, schema=schema, identifier=identifier)) }}
{% endmacro %}


{#-
    The rows an incremental run replaces in a persistent table (alias `target_rows`), by kind
    (config meta idstitch_delete):
    - nothing: append only (lineage, batches, run log);
    - uncommitted: rows of copies from runs that did not finish (caches);
    - working_events: rows of the events re-resolved in this run;
    - checked_events: rows of the events whose copies changed;
    - rejected_events: those of the working events that resolution decides, every row of the
      events whose copies changed (a copy without an event id is rejected once, by the run
      that reads it, and its row stays);
    - touched_nodes / touched_anchors: rows of the nodes re-resolved (by node, by edge anchor);
    - touched_profiles: rows of the profiles re-resolved;
    - erased_ids:<columns>: rows whose named columns hold the md5 id of a forgotten value
      (idstitch_is_erased_sql, docs/semantics.md §3c).
    form `exists` (DuckDB, Snowflake, in a DELETE): correlated EXISTS subqueries.
    form `in` (BigQuery, in a MERGE): uncorrelated `key in (select key ...)` subqueries. A key of
    two columns is joined into one string, `first:second`; the first column (a source name or an
    id type) is a configured lowercase name, which holds no `:`, so the joined key is unambiguous.
    A null in either column gives a null key, which matches nothing, as in the EXISTS form.
-#}
{% macro idstitch_delete_condition(kind, form='exists') %}
    {%- if form not in ['exists', 'in'] -%}
        {{ exceptions.raise_compiler_error('idstitch: unknown idstitch_delete_condition form `' ~ form ~ '`') }}
    {%- endif -%}
    {%- set keys = idstitch_state_relation('int_idstitch__working_keys') -%}
    {%- set nodes = idstitch_state_relation('int_idstitch__touched_nodes') -%}
    {%- if kind == 'nothing' -%}
        {{ return(none) }}
    {%- elif kind == 'uncommitted' -%}
        {{ return(idstitch_uncommitted('target_rows')) }}
    {%- elif kind == 'working_events' -%}
        {{ return(idstitch_working_event(keys, form)) }}
    {%- elif kind == 'checked_events' -%}
        {{ return(idstitch_working_event(keys, form, checked_only=true)) }}
    {%- elif kind == 'rejected_events' -%}
        {{ return(idstitch_working_event(keys, form, checked_only=true)
            ~ ' or (' ~ idstitch_is_strategy_rejection('target_rows.reason') ~ ' and '
            ~ idstitch_working_event(keys, form) ~ ')') }}
    {%- elif kind in ['touched_nodes', 'touched_anchors'] -%}
        {%- set prefix = 'id1_' if kind == 'touched_anchors' else 'id_' -%}
        {%- if form == 'in' -%}
            {{ return('concat(target_rows.' ~ prefix ~ "type, ':', target_rows." ~ prefix ~ 'value) in (select'
                ~ " concat(touched.id_type, ':', touched.id_value) from " ~ nodes ~ ' as touched)') }}
        {%- endif -%}
        {{ return('exists (select 1 from ' ~ nodes ~ ' as touched where touched.id_type = target_rows.' ~ prefix
            ~ 'type and touched.id_value = target_rows.' ~ prefix ~ 'value)') }}
    {%- elif kind.startswith('erased_ids:') -%}
        {%- set tests = [] -%}
        {%- for column in kind.split(':')[1].split(',') -%}
            {%- do tests.append(idstitch_is_erased_sql('target_rows.' ~ column, state=true)) -%}
        {%- endfor -%}
        {{ return(tests | join(' or ')) }}
    {%- elif kind == 'touched_profiles' -%}
        {%- set profiles = idstitch_state_relation('int_idstitch__touched_profiles') -%}
        {%- if form == 'in' -%}
            {{ return('target_rows.rudder_id in (select touched.rudder_id from ' ~ profiles ~ ' as touched)') }}
        {%- endif -%}
        {{ return('exists (select 1 from ' ~ profiles
            ~ ' as touched where touched.rudder_id = target_rows.rudder_id)') }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error('idstitch: unknown idstitch_delete kind `' ~ kind ~ '` in ' ~ this) }}
{% endmacro %}

{#- a condition true for the rows (alias target_rows) of an event of int_idstitch__working_keys
    (only those whose copies changed, with checked_only), in the form of idstitch_delete_condition -#}
{% macro idstitch_working_event(keys, form, checked_only=false) %}
    {%- if form == 'in' -%}
        {{ return("concat(target_rows.source, ':', target_rows.event_id) in (select concat(working.source, ':',"
            ~ ' working.event_id) from ' ~ keys ~ ' as working' ~ (' where working.is_checked' if checked_only else '') ~ ')') }}
    {%- endif -%}
    {{ return('exists (select 1 from ' ~ keys ~ ' as working where working.source = target_rows.source'
        ~ ' and working.event_id = target_rows.event_id' ~ (' and working.is_checked' if checked_only else '') ~ ')') }}
{% endmacro %}


{#- the id of this run's batch of new copies: the run id (var idstitch_run_id, else dbt's invocation) -#}
{% macro idstitch_batch_id() %}
    {{ return(var('idstitch_run_id', invocation_id)) }}
{% endmacro %}


{#-
    A condition true for rows of copies that no finished run has taken into account. Once the
    pending batches are known (idstitch_pending_batches), it names them: `batch_id in ('…')`,
    which lets a warehouse skip the blocks of older batches by their min/max, where `not in`
    the finished batches reads every row. (The subquery's column is qualified: inside a MERGE's
    condition, the BigQuery emulator binds an unqualified one to the target table.)
-#}
{% macro idstitch_uncommitted(alias, column='batch_id') %}
    {%- set batches = idstitch_state_relation('idstitch_batches') -%}
    {%- if batches is none -%}
        {{ return('1 = 1') }}
    {%- endif -%}
    {%- set pending = idstitch_pending_batches() if column == 'batch_id' else none -%}
    {%- if pending is not none -%}
        {%- if pending | length == 0 -%}
            {{ return('1 = 0') }}
        {%- endif -%}
        {%- set literals = [] -%}
        {%- for batch in pending -%}
            {%- do literals.append(idstitch_literal(batch)) -%}
        {%- endfor -%}
        {{ return(alias ~ '.' ~ column ~ ' in (' ~ literals | join(', ') ~ ')') }}
    {%- endif -%}
    {{ return(alias ~ '.' ~ column ~ ' not in (select finished.batch_id from ' ~ batches ~ ' as finished)') }}
{% endmacro %}


{#-
    `select <alias>.*, batch_id from <relation> as <alias>`: in a full run every row, with this
    run's batch id; in an incremental run only the rows of copies no finished run has taken
    into account (joined on the copy: source, event_id, occurred_at, fingerprint), with the
    batch that brought the copy.
-#}
{% macro idstitch_rows_of_pending_copies(relation, alias) %}
select
    {{ alias }}.*,
    {%- if idstitch_full_run() %}
    {{ idstitch_literal(idstitch_batch_id()) }} as batch_id
from {{ relation }} as {{ alias }}
    {%- else %}
    pending.batch_id
from {{ relation }} as {{ alias }}
inner join {{ ref('int_idstitch__event_copies') }} as pending
    on
        {{ alias }}.source = pending.source
        and {{ alias }}.event_id = pending.event_id
        and {{ alias }}.occurred_at = pending.occurred_at
        and {{ alias }}.fingerprint = pending.fingerprint
        and {{ idstitch_uncommitted('pending') }}
    {%- endif %}
{% endmacro %}


{#- whether a reason of idstitch_rejected_events is one a strategy gave (resolution decides it),
    not one of the checks on the event itself -#}
{% macro idstitch_is_strategy_rejection(reason) %}
    {{- return(reason ~ " in ('multiple_profiles_matched', 'limit_exceeded', 'never_merge')") -}}
{% endmacro %}
