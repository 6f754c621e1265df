{#-
    Materialization `idstitch_components`: the convergence loop of idstitch, run inside plain
    `dbt build`.

    The model's SQL returns node pairs (node_a, node_b): whole numbers in [0, 2^32); a node with
    no edge appears as a pair with itself. The table built has one row per node:
    (node_key, component_key), component_key being an arbitrary node of the same connected
    component. Rounds of randomized contraction (macros/sql/idstitch_components_sql.sql) run
    until no edge is left, which is the exact convergence test. `max_iterations` of the
    idstitch var is a hard cap: reaching it with edges left fails the run.

    Each round is logged to the side table `<model>__log`
    (run_id, step, iteration, rows_changed, edges_remaining, nodes_active, started_at, seconds),
    from which the mart idstitch_run_log appends.
-#}

{% materialization idstitch_components, default %}
    {%- set step = config.get('idstitch_step', this.identifier) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set log_relation = this.incorporate(path={'identifier': this.identifier ~ '__log'}, type='table') -%}
    {%- if idstitch_nothing_to_do() -%}
        {{ return(idstitch_keep_as_is(target_relation)) }}
    {%- endif -%}

    {{ run_hooks(pre_hooks) }}
    {%- set requests = {'before': idstitch_count_requests(), 'started': modules.datetime.datetime.now(modules.pytz.utc)} -%}
    {%- set outcome = idstitch_run_components(sql, target_relation, step, idstitch_config()['max_iterations'], defer_finish=true) -%}
    {#- the loop's last script (the result, the drops) and the log write go as one request; dbt
        wants a statement named main, which records that script without sending it again -#}
    {%- set sent = idstitch_count_requests() - requests['before'] + idstitch_script_requests(outcome['queue'] + ['the log']) -%}
    {%- set closing = outcome['queue'] + [idstitch_create_table_as(log_relation,
        idstitch_run_log_rows_sql(step, outcome['log'], idstitch_requests_row(sent, requests['started'])))] -%}
    {%- do idstitch_run_script(closing, fetch=false) -%}
    {% call noop_statement('main', 'OK') -%}
        {{ closing | join('\n;\n') }}
    {%- endcall %}
    {%- if outcome['error'] is not none -%}
        {{ exceptions.raise_compiler_error(outcome['error']) }}
    {%- endif -%}
    {{ run_hooks(post_hooks) }}
    {% do adapter.commit() %}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#-
    The loop itself, usable from any materialization: connected components of the node pairs
    returned by `pairs_sql`, written to `result_relation` as (node_key, component_key).
    Returns {'log': [one dict per round], 'rounds': n, 'error': none or the cap message,
    'queue': statements left to run}; on error the result table is not written (the caller
    decides how to fail, after logging). `before`: statements that make the tables `pairs_sql`
    reads, run at the start of the first script. `answers`: scalar queries the first script also
    selects (questions of the caller, asked in the same request), their values returned in
    'answer' (a list; none without questions). With `defer_finish`, the last script (composing
    the result, dropping the work tables) is not run but returned in 'queue', for the caller to
    run at the start of its next script; the result table exists only after that.
    `then`: {'statements': [...], 'answers': [scalar queries], 'first': bool}, work the caller
    wants done on the result as soon as it exists. Where a script is one request, a script
    that is likely the last (the first, unless 'first' is false because the graph may be large;
    or one that starts with at most 2^rounds-per-script edges left) also composes every round so
    far into the result (a round that found no edge composes as the identity), runs the
    statements and selects the answers, on the chance that the loop converges in it. When it
    did, 'then' holds the answers, the result exists, and the queue only drops work tables.
    When it did not, 'then' is none: the statements ran on a partial result, so they must only
    write tables the caller writes again after the queue. A wrong guess costs one pass of
    composing and of the caller's statements.
-#}
{% macro idstitch_run_components(pairs_sql, result_relation, step, max_iterations, before=[], defer_finish=false, answers=[], then=none) %}
    {%- set ns = namespace(edges=none, edge_count=0, done=false, rounds=0, hooks=[], log=[], answer=none, then=none) -%}
    {%- set first_edges = idstitch_scratch_relation(result_relation, 'edges_0') -%}
    {#- the first edges, and the range of the node keys, which is checked before any round's
        result is used: both go into the script of the first batch of rounds -#}
    {%- set start = {
        'statements': before + [idstitch_create_table_as(first_edges, idstitch_cc_initial_edges_sql(pairs_sql))],
        'columns_sql': 'bounds.*, (select count(*) from ' ~ first_edges ~ ') as edge_count, ',
        'from_sql': '\nfrom (' ~ idstitch_cc_bounds_sql(pairs_sql) ~ ') as bounds',
        'columns': 4,
    } -%}
    {%- set ns.edges = first_edges -%}

    {#- rounds while edges remain, at most max_iterations rounds. A script runs a batch of
        rounds (idstitch_cc_rounds_per_script) and then reads every round's counts: a round
        that finds no edge left is empty and cheap, and is neither logged nor composed -#}
    {%- set per_script = idstitch_cc_rounds_per_script() -%}
    {#- work tables to drop besides the composed hooks: the edge tables, the empty rounds' hooks -#}
    {%- set leftovers = [] -%}
    {%- for batch in range(0, max_iterations, per_script) -%}
        {%- if not ns.done and batch > 0 and ns.edge_count == 0 -%}
            {%- set ns.done = true -%}
        {%- endif -%}
        {%- if not ns.done -%}
            {%- set started = modules.datetime.datetime.now(modules.pytz.utc) -%}
            {%- set statements = [] -%}
            {%- set counts = [] -%}
            {%- set previous = namespace(edges=ns.edges) -%}
            {%- set iterations = range(batch + 1, [batch + per_script, max_iterations] | min + 1) | list -%}
            {%- for iteration in iterations -%}
                {%- set hooks = idstitch_scratch_relation(result_relation, 'hooks_' ~ iteration) -%}
                {#- per_script + 1 edge tables take turns (edges_0 holds the first edges): no drop
                    per round, and the counts read at the end of a batch are each round's own -#}
                {%- set edges = idstitch_scratch_relation(result_relation, 'edges_' ~ (iteration % (per_script + 1))) -%}
                {%- if iteration <= per_script -%}
                    {%- do leftovers.append(edges) -%}
                {%- endif -%}
                {%- do statements.append(idstitch_create_table_as(hooks, idstitch_cc_hooks_sql(previous.edges, iteration))) -%}
                {%- do statements.append(idstitch_create_table_as(edges, idstitch_cc_contract_sql(previous.edges, hooks))) -%}
                {%- do counts.append('(select count(*) from ' ~ edges ~ '), '
                    ~ '(select count(*) from ' ~ hooks ~ ' where hook != node), '
                    ~ '(select count(*) from ' ~ hooks ~ ')') -%}
                {%- set previous.edges = edges -%}
            {%- endfor -%}
            {%- set first = batch == 0 -%}
            {%- set offset = start['columns'] if first else 0 -%}
            {#- speculate in the first batch (unless the caller says the graph may be large) and in
                a batch that starts with few edges left, which is likely the last -#}
            {%- set speculating = then is not none and (
                (first and then.get('first', true)) or (not first and ns.edge_count <= 2 ** per_script)) -%}
            {%- set speculation = idstitch_cc_speculation(result_relation, pairs_sql,
                range(1, iterations[-1] + 1) | list, then if speculating else none) -%}
            {%- set ns.then = none -%}
            {%- set asked = (answers if first else []) + speculation['answers'] -%}
            {%- set stats = idstitch_run_script(
                (start['statements'] if first else []) + statements + speculation['statements']
                + ['select ' ~ (start['columns_sql'] if first else '') ~ counts | join(', ')
                    ~ ((', (' ~ asked | join('), (') ~ ')') if asked else '')
                    ~ (start['from_sql'] if first else '')]) -%}
            {#- the row's last columns: the caller's questions, then the speculation's -#}
            {%- set asked_from = (stats.columns | length) - (asked | length) -%}
            {%- if first and answers -%}
                {%- set ns.answer = stats.rows[0][asked_from:asked_from + answers | length] | list -%}
            {%- endif -%}
            {%- if speculation['statements'] -%}
                {%- set ns.then = stats.rows[0][(stats.columns | length) - (speculation['answers'] | length):] | list -%}
            {%- endif -%}
            {%- set finished = modules.datetime.datetime.now(modules.pytz.utc) -%}
            {%- if first -%}
                {%- set pair_count = stats.columns[0].values()[0] | int -%}
                {%- if pair_count > 0 and (stats.columns[1].values()[0] < 0 or stats.columns[2].values()[0] >= idstitch_node_key_bound()) -%}
                    {%- set batch_hooks = [] -%}
                    {%- for iteration in iterations -%}
                        {%- do batch_hooks.append(idstitch_scratch_relation(result_relation, 'hooks_' ~ iteration)) -%}
                    {%- endfor -%}
                    {%- do idstitch_run_script(idstitch_drops_sql([first_edges] + leftovers + batch_hooks), fetch=false) -%}
                    {{ exceptions.raise_compiler_error(
                        'idstitch: node keys of ' ~ result_relation ~ ' must lie in [0, ' ~ idstitch_node_key_bound() ~ '); got '
                        ~ stats.columns[1].values()[0] ~ ' .. ' ~ stats.columns[2].values()[0]) }}
                {%- endif -%}
                {%- set ns.edge_count = stats.columns[3].values()[0] | int -%}
            {%- endif -%}
            {%- set ns.edges = previous.edges -%}
            {%- set real = [] -%}
            {%- for iteration in iterations -%}
                {%- set hooks = idstitch_scratch_relation(result_relation, 'hooks_' ~ iteration) -%}
                {%- if ns.edge_count > 0 -%}
                    {%- do real.append({
                        'iteration': iteration,
                        'rows_changed': stats.columns[offset + 3 * loop.index0 + 1].values()[0] | int,
                        'edges_remaining': stats.columns[offset + 3 * loop.index0].values()[0] | int,
                        'nodes_active': stats.columns[offset + 3 * loop.index0 + 2].values()[0] | int,
                    }) -%}
                    {%- do ns.hooks.append(hooks) -%}
                    {%- set ns.rounds = iteration -%}
                    {%- set ns.edge_count = stats.columns[offset + 3 * loop.index0].values()[0] | int -%}
                {%- else -%}
                    {%- do leftovers.append(hooks) -%}
                {%- endif -%}
            {%- endfor -%}
            {#- the batch's time, shared evenly by its rounds -#}
            {%- set share = (finished - started).total_seconds() / ([real | length, 1] | max) -%}
            {%- for row in real -%}
                {%- do row.update({
                    'started_at': (started + modules.datetime.timedelta(seconds=share * loop.index0)).strftime('%Y-%m-%d %H:%M:%S.%f'),
                    'seconds': share,
                }) -%}
                {%- do ns.log.append(row) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}

    {#- the last batch's speculative result stands when the loop converged in it -#}
    {%- set speculated = ns.then is not none and ns.edge_count == 0 -%}
    {%- set error = none -%}
    {%- if ns.edge_count > 0 -%}
        {%- set error = 'idstitch: ' ~ step ~ ' did not converge within max_iterations = ' ~ max_iterations
            ~ ' rounds (' ~ ns.edge_count ~ ' edges left). Raise `max_iterations` in the idstitch var;'
            ~ ' randomized contraction needs about log2(nodes) + 5 rounds.' -%}
    {%- endif -%}

    {#- then one script: compose the hooks back into the result (unless the last script did),
        drop the work tables -#}
    {%- set finish = idstitch_cc_compose_statements(result_relation, pairs_sql, ns.hooks)
        if error is none and not speculated else [] -%}
    {%- do finish.extend(idstitch_drops_sql([first_edges] + idstitch_cc_representatives(result_relation) + ns.hooks + leftovers)) -%}
    {#- `defer_finish`: the caller runs these statements first in its next script -#}
    {%- set outcome = {'log': ns.log, 'rounds': ns.rounds, 'error': error, 'answer': ns.answer,
        'then': ns.then if speculated else none} -%}
    {%- if defer_finish and error is none -%}
        {%- do outcome.update({'queue': finish}) -%}
        {{ return(outcome) }}
    {%- endif -%}
    {%- do idstitch_run_script(finish, fetch=false) -%}
    {%- do outcome.update({'queue': []}) -%}
    {{ return(outcome) }}
{% endmacro %}


{#- compose the rounds' `hooks` back into the result: from the last round to the second (the two
    tables of idstitch_cc_representatives take turns), then the result, which adds the first
    round (none: the pairs alone) -#}
{% macro idstitch_cc_compose_statements(result_relation, pairs_sql, hooks) %}
    {%- set ns = namespace(representatives=none) -%}
    {%- set statements = [] -%}
    {%- for round_hooks in hooks[1:] | reverse -%}
        {%- set representatives = idstitch_cc_representatives(result_relation)[loop.index0 % 2] -%}
        {%- do statements.append(idstitch_create_table_as(representatives, idstitch_cc_compose_sql(round_hooks, ns.representatives))) -%}
        {%- set ns.representatives = representatives -%}
    {%- endfor -%}
    {%- do statements.append(idstitch_create_table_as(result_relation,
        idstitch_cc_result_sql(pairs_sql, hooks[0] if hooks else none, ns.representatives))) -%}
    {{- return(statements) -}}
{% endmacro %}

{% macro idstitch_cc_representatives(result_relation) %}
    {{- return([idstitch_scratch_relation(result_relation, 'representatives_0'), idstitch_scratch_relation(result_relation, 'representatives_1')]) -}}
{% endmacro %}


{#-
    The speculative end of a script of the loop (`then` of idstitch_run_components): compose the
    rounds `iterations` (every round so far) into the result, then the caller's statements.
    Nothing without a `then`, or where every statement is a request of its own
-#}
{% macro idstitch_cc_speculation(result_relation, pairs_sql, iterations, then) %}
    {%- if then is none or not idstitch_script_is_one_request() -%}
        {{- return({'statements': [], 'answers': []}) -}}
    {%- endif -%}
    {%- set hooks = [] -%}
    {%- for iteration in iterations -%}
        {%- do hooks.append(idstitch_scratch_relation(result_relation, 'hooks_' ~ iteration)) -%}
    {%- endfor -%}
    {{- return({'statements': idstitch_cc_compose_statements(result_relation, pairs_sql, hooks) + then['statements'],
        'answers': then['answers']}) -}}
{% endmacro %}


{#- how many rounds of the loop one script runs. Where a script is one request (DuckDB, BigQuery,
    Snowflake with Scripting blocks), 4: a round that finds no edge left costs two statements on
    empty tables inside the script, far less than a request of its own. Where every statement
    is its own request, one -#}
{% macro idstitch_cc_rounds_per_script() %}
    {{- return(4 if idstitch_script_is_one_request() else 1) -}}
{% endmacro %}


{#- a work table beside a relation, dropped when the work is done -#}
{% macro idstitch_scratch_relation(relation, name) %}
    {{- return(adapter.dispatch('idstitch_scratch_relation', 'idstitch')(relation, name)) -}}
{% endmacro %}

{% macro default__idstitch_scratch_relation(relation, name) %}
    {{- return(relation.incorporate(path={'identifier': relation.identifier ~ '__' ~ name}, type='table')) -}}
{% endmacro %}

{#- on DuckDB a temporary table: it lives in memory for the connection, so the loops' many
    small tables cost no writes to the database file. It has no schema, which is how
    idstitch_create_table_as knows to create it temporary -#}
{% macro duckdb__idstitch_scratch_relation(relation, name) %}
    {{- return(api.Relation.create(identifier=relation.identifier ~ '__' ~ name, type='table')) -}}
{% endmacro %}


{#- the run log's row for the requests a loop model sent to the warehouse (step
    `<step>:requests`, iteration 0, the count in rows_changed), from `started` to now -#}
{% macro idstitch_requests_row(count, started) %}
    {%- set finished = modules.datetime.datetime.now(modules.pytz.utc) -%}
    {{- return({'iteration': 0, 'rows_changed': count, 'edges_remaining': none, 'nodes_active': none,
        'started_at': started.strftime('%Y-%m-%d %H:%M:%S.%f'), 'seconds': (finished - started).total_seconds()}) -}}
{% endmacro %}


{#- the rows of a run log as a query: one row per iteration (a typed empty result when none),
    and with `requests` (idstitch_requests_row) the row of the requests the loop sent -#}
{% macro idstitch_run_log_rows_sql(step, rows, requests=none) %}
    {%- set selects = [] -%}
    {%- if requests is not none -%}
        {%- do selects.append(
            'select ' ~ idstitch_literal(var('idstitch_run_id', invocation_id)) ~ ' as run_id, '
            ~ idstitch_literal(step ~ ':requests') ~ ' as step, '
            ~ '0 as iteration, '
            ~ requests['rows_changed'] ~ ' as rows_changed, '
            ~ 'cast(null as ' ~ dbt.type_int() ~ ') as edges_remaining, '
            ~ 'cast(null as ' ~ dbt.type_int() ~ ') as nodes_active, '
            ~ 'cast(' ~ idstitch_literal(requests['started_at']) ~ ' as ' ~ dbt.type_timestamp() ~ ') as started_at, '
            ~ 'cast(' ~ requests['seconds'] ~ ' as ' ~ dbt.type_numeric() ~ ') as seconds') -%}
    {%- endif -%}
    {%- for row in rows -%}
        {%- do selects.append(
            'select ' ~ idstitch_literal(var('idstitch_run_id', invocation_id)) ~ ' as run_id, '
            ~ idstitch_literal(step) ~ ' as step, '
            ~ row['iteration'] ~ ' as iteration, '
            ~ row['rows_changed'] ~ ' as rows_changed, '
            ~ row['edges_remaining'] ~ ' as edges_remaining, '
            ~ row['nodes_active'] ~ ' as nodes_active, '
            ~ 'cast(' ~ idstitch_literal(row['started_at']) ~ ' as ' ~ dbt.type_timestamp() ~ ') as started_at, '
            ~ 'cast(' ~ row['seconds'] ~ ' as ' ~ dbt.type_numeric() ~ ') as seconds') -%}
    {%- endfor -%}
    {%- if selects | length == 0 -%}
        {%- do selects.append(
            'select cast(null as ' ~ dbt.type_string() ~ ') as run_id, '
            ~ 'cast(null as ' ~ dbt.type_string() ~ ') as step, '
            ~ 'cast(null as ' ~ dbt.type_int() ~ ') as iteration, '
            ~ 'cast(null as ' ~ dbt.type_int() ~ ') as rows_changed, '
            ~ 'cast(null as ' ~ dbt.type_int() ~ ') as edges_remaining, '
            ~ 'cast(null as ' ~ dbt.type_int() ~ ') as nodes_active, '
            ~ 'cast(null as ' ~ dbt.type_timestamp() ~ ') as started_at, '
            ~ 'cast(null as ' ~ dbt.type_numeric() ~ ') as seconds where 1 = 0') -%}
    {%- endif -%}
    {{- return(selects | join('\nunion all\n')) -}}
{% endmacro %}
