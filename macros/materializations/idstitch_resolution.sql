{#-
    Materialization `idstitch_resolution`: the ordered resolution of docs/semantics.md §3, set-based.

    The model's SQL returns the items of accepted events (event_rank, strategy, role,
    item_order, node_key, id_type). The table built has one row per item with its decision
    (see idstitch_decide_sql). Config `never_merge` names the relation of never-merge pairs.

    1. The unconstrained graph (every item linked to its event's first id) is split into
       components. A component whose events are all `merge`/manual without aliases, with no
       never-merge pair inside and within every limit, is final at once: every union applies
       (limits only grow under union, so no union in it was ever refused). For a limit over a
       period, "within" means that no moment has more of the type's values in their period
       than the count (idstitch_res_over_window_sql).
    2. The other components are resolved in rounds, all components at once. Each round takes
       the true state S at the component's next unresolved event, decides every later event
       tentatively against S, and keeps the longest prefix whose decisions provably hold:
       decisions only depend on existence (checked exactly, in time order), on two nodes
       sharing a profile and on profile sizes, and both of those are monotone, so a decision
       that is the same under S and under the state after the prefix (H) holds at every
       state in between. The prefix length is found by a k-ary search: each probe tests
       several lengths per component side by side, in disjoint key spaces, with one
       connected-components run (idstitch_res_lanes); a probe's verdicts are taken in the
       same request as its run when the run converges in its first batch of rounds. H of the
       longest verified prefix is kept from the lane that verified it, so applying the prefix
       needs no run of its own. The first event after the prefix is then decided exactly
       against H, item by item. Rounds grow with the number of events whose outcome the earlier events
       changed (the depth of conflict), not with the number of events.
    Each round writes a row to `<model>__log` (step constrained_resolution).
-#}

{% materialization idstitch_resolution, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set log_relation = this.incorporate(path={'identifier': this.identifier ~ '__log'}, type='table') -%}
    {%- if idstitch_nothing_to_do() -%}
        {{ return(idstitch_keep_as_is(target_relation)) }}
    {%- endif -%}
    {{ run_hooks(pre_hooks) }}
    {%- set outcome = idstitch_resolve(sql, ref('int_idstitch__never_merge_pairs'), target_relation, log_relation) -%}
    {#- dbt wants a statement named main, which records the last script without sending it again -#}
    {% call noop_statement('main', 'OK') -%}
        {{ outcome['finish'] | join('\n;\n') }}
    {%- endcall %}
    {%- if outcome['error'] is not none -%}
        {{ exceptions.raise_compiler_error(outcome['error']) }}
    {%- endif -%}
    {{ run_hooks(post_hooks) }}
    {% do adapter.commit() %}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#-
    The resolution itself, usable from any materialization: resolves the items `items_sql`
    returns (see above) under the never-merge pairs of `never_relation` (node_a, node_b), writes
    the decisions to `target_relation`, the partitions of the events to `<target>__comps`, and
    one log row per round to `log_relation`. Returns {'error': none or a message (then no
    decisions are written; the caller fails), 'finish': the last script, already run}.
-#}
{% macro idstitch_resolve(items_sql, never_relation, target_relation, log_relation) %}
    {%- set settings = idstitch_config() -%}
    {%- set step = 'constrained_resolution' -%}
    {%- set ns = namespace(log=[], error=none, round=0, active=0, remaining=0, queue=[]) -%}
    {%- set requests = {'before': idstitch_count_requests(), 'started': modules.datetime.datetime.now(modules.pytz.utc)} -%}

    {%- set items = idstitch_scratch_relation(target_relation, 'items') -%}
    {%- set links = idstitch_scratch_relation(target_relation, 'links') -%}
    {%- set comps = target_relation.incorporate(path={'identifier': target_relation.identifier ~ '__comps'}) -%}
    {%- set never = idstitch_scratch_relation(target_relation, 'never') -%}
    {%- set state = idstitch_scratch_relation(target_relation, 'state') -%}
    {%- set progress = idstitch_scratch_relation(target_relation, 'progress') -%}
    {%- set decisions = idstitch_scratch_relation(target_relation, 'decisions') -%}
    {#- (node_key, event_at) per decided event that touched a node: when each node was last
        observed, for limits over a period (docs/semantics.md §3b) -#}
    {%- set seen = idstitch_scratch_relation(target_relation, 'seen') -%}
    {#- the items and nodes of the components the rounds resolve: every statement of a round reads
        these, not those of the whole graph -#}
    {%- set round_items = idstitch_scratch_relation(target_relation, 'round_items') -%}
    {%- set round_node_types = idstitch_scratch_relation(target_relation, 'round_node_types') -%}

    {#- 1. components of the unconstrained graph, then the tables of the rounds, which also
        answer how many components a rule can bind in and the key stride of the probes' lanes.
        They go with the loop's last script when it is likely the last, else after the loop -#}
    {%- set setup = [
        idstitch_create_table_as(items, idstitch_res_items_sql(items_sql, comps)),
        idstitch_create_table_as(never, idstitch_res_never_sql(never_relation, items)),
        idstitch_create_table_as(progress, idstitch_res_slow_components_sql(items, never)),
        idstitch_create_table_as(decisions, idstitch_res_fast_decisions_sql(items, progress)),
        idstitch_create_table_as(state, 'select node_key as node, node_key as profile from ' ~ items ~ ' where 1 = 0'),
        idstitch_create_table_as(seen, 'select node_key, event_at from ' ~ items ~ ' where 1 = 0'),
        idstitch_create_table_as(round_items, 'select items.* from ' ~ items ~ ' as items inner join ' ~ progress
            ~ ' as progress on items.comp = progress.comp'),
        idstitch_create_table_as(round_node_types, 'select distinct node_key, id_type, comp from ' ~ round_items),
    ] -%}
    {%- set setup_answers = ['select count(*) from ' ~ progress, 'select coalesce(max(node_key), 0) + 1 from ' ~ items,
        'select count(*) from ' ~ round_items] -%}
    {%- set graph = idstitch_run_components(
        'select node_key as node_a, first_key as node_b from ' ~ links,
        comps, 'resolution_graph', settings['max_iterations'],
        before=[idstitch_create_table_as(links, idstitch_res_links_sql(items_sql))], defer_finish=true,
        then={'statements': setup, 'answers': setup_answers, 'first': false}) -%}
    {%- if graph['error'] is not none -%}
        {{ exceptions.raise_compiler_error(graph['error']) }}
    {%- endif -%}
    {%- set ns.queue = graph['queue'] -%}
    {%- set answers = graph['then'] -%}
    {%- if answers is none -%}
        {%- set found = idstitch_run_script(ns.queue + setup + ['select (' ~ setup_answers | join('), (') ~ ')']) -%}
        {%- set ns.queue = [] -%}
        {%- set answers = found.rows[0] | list -%}
    {%- endif -%}
    {%- set lanes = idstitch_res_lanes(answers[1] | int) -%}
    {%- set ns.active = answers[0] | int -%}
    {%- set ns.remaining = answers[2] | int -%}

    {#- 2. rounds over the components where a rule can bind. A round's last request also answers
        how many components are left; the statements it leaves (the exact step's items, the
        drops) start the next round's first request, or the closing one -#}
    {%- for round in range(1, settings['max_resolution_rounds'] + 1) -%}
        {%- if ns.active > 0 and ns.error is none -%}
            {%- set started = modules.datetime.datetime.now(modules.pytz.utc) -%}
            {%- set outcome = idstitch_res_round(round_items, round_node_types, never, state, seen, progress, decisions, settings, lanes, ns.queue, ns.remaining) -%}
            {%- set ns.queue = outcome['queue'] -%}
            {%- set ns.round = round -%}
            {%- set ns.error = outcome['error'] -%}
            {%- set ns.active = outcome['active'] -%}
            {%- set ns.remaining = outcome['remaining'] -%}
            {%- set finished = modules.datetime.datetime.now(modules.pytz.utc) -%}
            {%- do ns.log.append({
                'iteration': round,
                'rows_changed': outcome['resolved'],
                'edges_remaining': outcome['remaining'],
                'nodes_active': ns.active,
                'started_at': started.strftime('%Y-%m-%d %H:%M:%S.%f'),
                'seconds': (finished - started).total_seconds(),
            }) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if ns.error is none and ns.active > 0 -%}
        {%- set ns.error = 'idstitch: constrained resolution did not finish within max_resolution_rounds = '
            ~ settings['max_resolution_rounds'] ~ ' rounds (' ~ ns.active ~ ' components left). Raise'
            ~ ' `max_resolution_rounds` in the idstitch var.' -%}
    {%- endif -%}

    {#- the log write, the result and the drops go as one request; dbt wants a statement named
        main, which records that script without sending it again -#}
    {%- set finish = ns.queue -%}
    {%- if ns.error is none -%}
        {%- do finish.append(idstitch_create_table_as(target_relation, 'select * from ' ~ decisions)) -%}
    {%- endif -%}
    {#- the components of the unconstrained graph stay (`<model>__comps`): they are the partitions of
        the events, kept in int_idstitch__observation_index for incremental runs -#}
    {%- do finish.extend(idstitch_drops_sql([items, links, never, state, seen, progress, decisions, round_items, round_node_types])) -%}
    {%- set sent = idstitch_count_requests() - requests['before'] + idstitch_script_requests(finish + ['the log']) -%}
    {%- do finish.insert(0, idstitch_create_table_as(log_relation,
        idstitch_run_log_rows_sql(step, ns.log, idstitch_requests_row(sent, requests['started'])))) -%}
    {%- do idstitch_run_script(finish, fetch=false) -%}
    {{ return({'error': ns.error, 'finish': finish}) }}
{% endmacro %}


{#- every item with the key of its event's first id: the links of the unconstrained graph -#}
{% macro idstitch_res_links_sql(items_sql) %}
with

items as (
    select * from ({{ items_sql }}) as model_items
),

first_ids as (
    select
        event_rank,
        min(case when role = 'id' and item_order = 1 then node_key end) as first_key
    from items
    group by event_rank
)

select
    items.node_key,
    first_ids.first_key
from items
inner join first_ids
    on items.event_rank = first_ids.event_rank
{% endmacro %}


{% macro idstitch_res_items_sql(items_sql, comps) %}
select
    model_items.event_rank,
    model_items.strategy,
    model_items.role,
    model_items.item_order,
    model_items.node_key,
    model_items.id_type,
    {{ idstitch_epoch_micros('model_items.occurred_at') }} as event_at,
    comps.component_key as comp
from ({{ items_sql }}) as model_items
inner join {{ comps }} as comps
    on model_items.node_key = comps.node_key
{% endmacro %}


{#- never-merge pairs among the nodes that occur (those of `items`), both directions -#}
{% macro idstitch_res_never_sql(never_relation, items) %}
select distinct
    pairs.node_a,
    pairs.node_b
from (
    select
        node_a,
        node_b
    from {{ never_relation }}
    union all
    select
        node_b as node_a,
        node_a as node_b
    from {{ never_relation }}
) as pairs
where
    pairs.node_a in (select items.node_key from {{ items }} as items)
    and pairs.node_b in (select items.node_key from {{ items }} as items)
{% endmacro %}


{#-
    The components where a rule can bind, each with its first event: the loop's work list.
    A `strict` event binds only when its identifiers that already exist lie in two profiles or
    it would break a limit; a `first_alias` event skips an identifier only when it exists on
    another profile or would break a limit. In a component where no type has more nodes than its
    limit, and whose events otherwise all merge, either needs two of the event's nodes created
    by earlier events: with at most one, the event is added whole, as a merge is, anchored on
    the node that existed. So such a component needs no ordered pass.
-#}
{% macro idstitch_res_slow_components_sql(items, never) %}
{%- set windowed = idstitch_window_types() | length > 0 %}
with

rule_strategies as (
    select distinct comp
    from {{ items }}
    where strategy not in ('merge', 'manual', 'strict', 'first_alias') or role = 'alias'
),

-- the items of the components with such events, and when each of their nodes was first seen
checked_items as (
    select items.*
    from {{ items }} as items
    inner join (select distinct comp from {{ items }} where strategy in ('strict', 'first_alias')) as checked_comps
        on items.comp = checked_comps.comp
),

bridging_comps as (
    select distinct comp
    from (
        select
            comp,
            event_rank
        from (
            select
                comp,
                event_rank,
                strategy,
                min(event_rank) over (partition by node_key) as first_rank
            from checked_items
        ) as ranked_items
        where strategy in ('strict', 'first_alias') and first_rank < event_rank
        group by comp, event_rank
        having count(*) > 1
    ) as bridging_events
),

type_counts as (
    select
        comp,
        id_type,
        count(distinct node_key) as nodes
    from {{ items }}
    group by comp, id_type
),

over_limit as (
    select distinct comp
    from type_counts
    where nodes > {{ idstitch_limit_of('id_type', ever_only=true) }}
),
{%- if windowed %}

{{ idstitch_res_over_window_sql(items, 'type_counts') }},
{%- endif %}

never_inside as (
    select distinct item_a.comp
    from {{ never }} as never
    inner join {{ items }} as item_a
        on never.node_a = item_a.node_key
    inner join {{ items }} as item_b
        on never.node_b = item_b.node_key
    where item_a.comp = item_b.comp
),

slow as (
    select distinct comp
    from (
        select comp from rule_strategies
        union all
        select comp from bridging_comps
        union all
        select comp from over_limit
        union all
        {%- if windowed %}
        select comp from over_window
        union all
        {%- endif %}
        select comp from never_inside
    ) as reasons
)

select
    slow.comp,
    min(items.event_rank) as next_rank
from slow
inner join {{ items }} as items
    on slow.comp = items.comp
group by slow.comp
{% endmacro %}


{#-
    The CTE `over_window`: the components where a limit over a period (docs/semantics.md §3b)
    could bind. A value counts at time t when it is one of the event's own or was last observed
    after t - P, so it counts at most while some observation s of it has s <= t < s + P. Each
    value's observations are joined into spans [first, last + P) where their periods overlap,
    and the spans of a type are swept in time order (a span's end before a start at the same
    time). When at most the limit are open at every moment, no union in the component is ever
    refused by that type, whatever the order of its events, so plain components are its answer.
    Only the types with more values in the component than their limit (`type_counts`: comp,
    id_type, nodes) are swept. The events that touch a node are a subset of its items, so the
    sweep may count a value a refused event would not have touched: it errs towards the ordered
    path, never away from it.
-#}
{% macro idstitch_res_over_window_sql(items, type_counts) %}
window_items as (
    select
        items.comp,
        items.id_type,
        items.node_key,
        items.event_at,
        {{ idstitch_window_of('items.id_type') }} as period
    from {{ items }} as items
    inner join {{ type_counts }} as crowded
        on items.comp = crowded.comp and items.id_type = crowded.id_type
    where
        crowded.nodes > {{ idstitch_limit_of('crowded.id_type') }}
        and {{ idstitch_window_of('crowded.id_type') }} is not null
),

window_starts as (
    select
        comp,
        id_type,
        node_key,
        event_at,
        period,
        case
            when lag(event_at) over (partition by comp, node_key order by event_at) >= event_at - period then 0
            else 1
        end as opens
    from window_items
),

window_spans as (
    select
        comp,
        id_type,
        min(event_at) as opened_at,
        max(event_at) + max(period) as closed_at
    from (
        select
            window_starts.*,
            sum(opens) over (
                partition by comp, node_key order by event_at rows between unbounded preceding and current row
            ) as span
        from window_starts
    ) as numbered
    group by comp, id_type, node_key, span
),

window_moves as (
    select
        comp,
        id_type,
        opened_at as moved_at,
        1 as delta
    from window_spans
    union all
    select
        comp,
        id_type,
        closed_at as moved_at,
        -1 as delta
    from window_spans
),

over_window as (
    select distinct comp
    from (
        select
            comp,
            id_type,
            sum(delta) over (
                partition by comp, id_type order by moved_at, delta rows between unbounded preceding and current row
            ) as in_window
        from window_moves
    ) as swept
    where in_window > {{ idstitch_limit_of('id_type') }}
)
{% endmacro %}


{#- decisions in components where no rule binds: every item applies, as plain components -#}
{% macro idstitch_res_fast_decisions_sql(items, progress) %}
with

fast_items as (
    select
        items.*,
        min(items.event_rank) over (partition by items.node_key) as first_rank
    from {{ items }} as items
    left join {{ progress }} as progress
        on items.comp = progress.comp
    where progress.comp is null
),

-- a node exists at an event when an earlier event carries it
anchors as (
    {{ idstitch_anchors_sql('fast_items', none, existed='items.first_rank < items.event_rank') | indent(4) }}
)

select
    fast_items.event_rank,
    fast_items.role,
    fast_items.item_order,
    fast_items.node_key,
    anchors.anchor_key,
    case when fast_items.node_key = anchors.anchor_key then 'anchor' else 'applied' end as decision,
    cast(null as {{ dbt.type_string() }}) as reason,
    cast(null as {{ dbt.type_string() }}) as limit_type,
    cast(null as {{ dbt.type_string() }}) as kind,
    case when fast_items.event_rank = fast_items.first_rank then 1 else 0 end as created,
    1 as touched,
    cast(null as {{ dbt.type_string() }}) as event_rejection
from fast_items
inner join anchors
    on fast_items.event_rank = anchors.event_rank
{% endmacro %}


{#- the columns the loop records for each decided item -#}
{% macro idstitch_res_decision_columns() %}
    {{- return('event_rank, role, item_order, node_key, anchor_key, decision, reason, limit_type, kind, created, touched, event_rejection') -}}
{% endmacro %}


{#-
    One round of ordered resolution over every component in `progress` (comp, next_rank).
    `seen` logs when decided events touched nodes (limits over a period read it; the round
    appends the events it decides).
    `lanes` ({'count': k, 'stride': s}, idstitch_res_lanes) sets how many prefix lengths of a
    component one probe tests side by side. `queue`: statements the last round left, run first.
    `remaining`: the items of the components the round resolves (a small round guesses that a
    probe's components converge in their first batch, idstitch_res_small_round).
    Returns {'resolved': events decided, 'active': components left, 'remaining': their items,
    'error': none or a message, 'queue': statements the caller must still run (the round's
    closing: its decisions, the exact step, the next progress, the drops)}; the caller sends
    them with its next request.
-#}
{% macro idstitch_res_round(items, node_types, never, state, seen, progress, decisions, settings, lanes, queue, remaining) %}
    {%- set windowed = idstitch_window_types() | length > 0 -%}
    {%- set pending = idstitch_scratch_relation(items, 'pending') -%}
    {%- set anchors = idstitch_scratch_relation(items, 'anchors') -%}
    {%- set tentative = idstitch_scratch_relation(items, 'tentative') -%}
    {%- set bounds = idstitch_scratch_relation(items, 'bounds') -%}
    {%- set probe = idstitch_scratch_relation(items, 'probe') -%}
    {%- set hstate = idstitch_scratch_relation(items, 'hstate') -%}
    {%- set hprofiles = idstitch_scratch_relation(items, 'hprofiles') -%}
    {#- H of each component's longest verified prefix so far, from the lane that verified it:
        two tables take turns (ns.verified is the current one), so a probe writes the next
        without copying it back -#}
    {%- set verified = [idstitch_scratch_relation(items, 'verified_0'), idstitch_scratch_relation(items, 'verified_1')] -%}
    {%- set next_bounds = idstitch_scratch_relation(items, 'next_bounds') -%}
    {#- a probe's lanes: each probed prefix in a key space of its own (idstitch_res_lane_sql) -#}
    {%- set lane = {} -%}
    {%- for name in ['probe', 'tentative', 'state', 'seen', 'node_types', 'never', 'bounds', 'verdicts'] -%}
        {%- do lane.update({name: idstitch_scratch_relation(items, 'lane_' ~ name)}) -%}
    {%- endfor -%}
    {#- statements that need no answer in between wait in `queue` and run as one script with
        the next question (idstitch_run_script) -#}
    {%- set ns = namespace(probing=0, error=none, resolved=0, active=0, remaining=0, queue=[], close=none, verified=0) -%}

    {#- tentative decisions of every pending event against the state S, after what the last
        round left to run -#}
    {%- set ns.queue = queue + [
        idstitch_create_table_as(pending, idstitch_res_pending_sql(items, progress)),
        idstitch_create_table_as(anchors, idstitch_anchors_sql(pending, state)),
        idstitch_create_table_as(tentative, idstitch_res_tentative_sql(pending, state, anchors, never, node_types, seen)),
        idstitch_create_table_as(bounds, idstitch_res_bounds_sql(tentative)),
        idstitch_create_table_as(verified[0], 'select node as node_key, profile as component_key, node as comp from ' ~ state ~ ' where 1 = 0'),
    ] -%}

    {#- search for the longest verified prefix: each probe tests `lanes.count` prefix lengths
        per component at once, the longest allowed among them, and narrows (lo, hi) to the
        gap between the longest verified and the shortest refuted -#}
    {%- for attempt in range(64) -%}
        {%- if ns.error is none -%}
            {%- set lane_tables = [] -%}
            {%- for name, sql in idstitch_res_lane_sql(probe, tentative, state, seen, node_types, never, bounds, lanes['stride']).items() -%}
                {%- do lane_tables.append(idstitch_create_table_as(lane[name], sql)) -%}
            {%- endfor -%}
            {#- the probe's tables, its connected-components run and its verdicts go in one
                request, which also answers whether anything was probed and whether anything is
                left to probe. The verdicts are taken on the chance that the run converges in
                its first batch of rounds; when it takes more, they are taken again after it -#}
            {%- set verdicts = [
                idstitch_create_table_as(hstate, idstitch_res_hstate_sql(lane['state'], hprofiles)),
                idstitch_create_table_as(lane['verdicts'], idstitch_res_verify_sql(
                    lane['bounds'], lane['probe'], lane['tentative'], hstate, lane['state'],
                    lane['never'], lane['node_types'], lane['seen'])),
                idstitch_create_table_as(next_bounds, idstitch_res_narrow_sql(bounds, lane['verdicts'], lanes['stride'])),
                idstitch_create_table_as(verified[1 - ns.verified], idstitch_res_keep_verified_sql(
                    verified[ns.verified], bounds, next_bounds, probe, hstate, node_types, lanes['stride'])),
            ] -%}
            {%- set outcome = idstitch_run_components(
                idstitch_res_prefix_pairs_sql(lane['state'], lane['tentative'], lane['probe']),
                hprofiles, 'resolution_probe', settings['max_iterations'],
                before=ns.queue + [
                    idstitch_create_table_as(probe, idstitch_res_probe_sql(bounds, lanes['count'], attempt == 0)),
                ] + lane_tables, defer_finish=true,
                answers=['select count(*) from ' ~ probe] + idstitch_res_close_answers(tentative, bounds),
                then={'statements': verdicts, 'answers': ['select count(*) from ' ~ next_bounds ~ ' where lo < hi']
                    + idstitch_res_close_answers(tentative, next_bounds), 'first': remaining <= idstitch_res_small_round()}) -%}
            {%- set ns.probing = outcome['answer'][0] | int -%}
            {%- set ns.queue = [] -%}
            {%- if ns.probing == 0 and outcome['error'] is none -%}
                {%- set ns.queue = outcome['queue'] -%}
                {%- set ns.close = outcome['answer'][1:] -%}
                {%- set ns.error = 'done' -%}
            {%- elif ns.probing > 0 -%}
                {%- set ns.error = outcome['error'] -%}
                {%- if ns.error is none -%}
                    {%- set ns.queue = outcome['queue'] + (verdicts if outcome['then'] is none else []) + [
                        idstitch_create_table_as(bounds, 'select * from ' ~ next_bounds),
                    ] -%}
                    {%- set ns.verified = 1 - ns.verified -%}
                    {%- if outcome['then'] is not none and outcome['then'][0] | int == 0 -%}
                        {%- set ns.close = outcome['then'][1:] -%}
                        {%- set ns.error = 'done' -%}
                    {%- endif -%}
                {%- endif -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if ns.error == 'done' -%}
        {%- set ns.error = none -%}
    {%- elif ns.error is none -%}
        {%- set ns.error = 'idstitch: the search of a resolution round did not finish within 64 probes' -%}
    {%- endif -%}

    {%- if ns.error is none -%}
        {#- the search is over and (lo, hi) final: record the prefix, move S past it, say where
            each component goes on, then decide the next event exactly. None of it needs an
            answer (the last probe's request answered what the log and the next round need), so
            it waits for the next round's first request, or the closing one -#}
        {%- do ns.queue.extend([
            idstitch_create_table_as(hstate, idstitch_res_verified_hstate_sql(state, verified[ns.verified])),
            'insert into ' ~ decisions ~ ' (' ~ idstitch_res_decision_columns() ~ ')\n'
                ~ idstitch_res_prefix_decisions_sql(tentative, bounds),
            idstitch_create_table_as(state, idstitch_res_prefix_state_sql(state, tentative, bounds, hstate)),
        ] + ([idstitch_res_seen_insert_sql(seen, 'tentative', 'inner join ' ~ bounds
            ~ ' as bounds on tentative.comp = bounds.comp and tentative.event_index <= bounds.lo', tentative)]
            if windowed else []) + [
            idstitch_create_table_as(progress, idstitch_res_next_progress_sql(tentative, bounds)),
        ] + idstitch_res_exact_sql(pending, tentative, bounds, node_types, never, state, seen, decisions, ns.close[3] | int)) -%}
        {%- set ns.resolved = ns.close[0] | int -%}
        {%- set ns.active = ns.close[1] | int -%}
        {%- set ns.remaining = ns.close[2] | int -%}
    {%- endif -%}
    {%- do ns.queue.extend(idstitch_drops_sql([pending, anchors, tentative, bounds, probe, hstate, hprofiles, next_bounds] + verified + lane.values() | list)) -%}
    {#- the caller runs the statements left in the queue with its next request -#}
    {{ return({'resolved': ns.resolved, 'active': ns.active, 'remaining': ns.remaining, 'error': ns.error, 'queue': ns.queue}) }}
{% endmacro %}


{#- the most items a round can have and still guess, in a probe's first request, that the
    probe's components converge in their first batch of rounds (idstitch_run_components, `then`):
    a wrong guess costs a pass of the verdicts, which only a small round should risk for the
    request it saves -#}
{% macro idstitch_res_small_round() %}{{ return(10000) }}{% endmacro %}


{#-
    How many prefix lengths one probe tests per component, and the stride of their key spaces:
    lane l of a probe moves every node key and component key k to k + l * stride, so the lanes'
    graphs never touch and one connected-components run checks them all. `stride` is one more
    than the largest node key; every moved key must stay below 2^32 (idstitch_node_key_bound),
    which caps the lanes for very large runs (down to one lane: plain bisection).
-#}
{% macro idstitch_res_lanes(stride) %}
    {%- set wanted = adapter.dispatch('idstitch_res_probe_lanes', 'idstitch')() -%}
    {%- set fitting = (idstitch_node_key_bound() // stride) | int -%}
    {{- return({'count': [[wanted, fitting] | min, 1] | max, 'stride': stride}) -}}
{% endmacro %}

{#- lanes per probe: each probe is a connected-components run whose cost is mostly its rounds'
    statements, so testing more prefix lengths at once costs little more than testing one -#}
{% macro default__idstitch_res_probe_lanes() %}{{ return(8) }}{% endmacro %}


{#- a probe's relations, one copy per lane, keys moved into the lane's key space -#}
{% macro idstitch_res_lane_sql(probe, tentative, state, seen, node_types, never, bounds, stride) %}
    {{- return({
        'probe': 'select comp + lane * ' ~ stride ~ ' as comp, mid from ' ~ probe,
        'tentative': idstitch_res_lane_tentative_sql(tentative, probe, stride),
        'state': idstitch_res_lane_copy_sql(state, ['node', 'profile'], [], probe, stride, node_types, 'node'),
        'seen': idstitch_res_lane_copy_sql(seen, ['node_key'], ['event_at'], probe, stride, node_types, 'node_key'),
        'node_types': idstitch_res_lane_copy_sql(node_types, ['node_key', 'comp'], ['id_type'], probe, stride),
        'never': idstitch_res_lane_copy_sql(never, ['node_a', 'node_b'], [], probe, stride, node_types, 'node_a'),
        'bounds': idstitch_res_lane_copy_sql(bounds, ['comp'], ['events', 'lo', 'hi'], probe, stride),
    }) -}}
{% endmacro %}


{#-
    The rows of `relation` in the probed components, once per lane of their component, the
    key columns `moved` moved into the lane's key space and the columns `kept` as they are. The
    component is the row's `comp`, or, with `node_column`, the component of that node in
    `node_types`. A never-merge pair matters only inside the component of its first node (the
    verdicts compare profiles of one component), so both its ends take that component's lane.
-#}
{% macro idstitch_res_lane_copy_sql(relation, moved, kept, probe, stride, node_types=none, node_column=none) %}
    {%- set columns = [] -%}
    {%- for c in moved -%}
        {%- do columns.append('copied.' ~ c ~ ' + lanes.lane * ' ~ stride ~ ' as ' ~ c) -%}
    {%- endfor -%}
    {%- for c in kept -%}
        {%- do columns.append('copied.' ~ c) -%}
    {%- endfor %}
select
    {{ columns | join(',\n    ') }}
from {{ relation }} as copied
{%- if node_column is not none %}
inner join (select distinct node_key, comp from {{ node_types }}) as node_comps
    on copied.{{ node_column }} = node_comps.node_key
{%- endif %}
inner join (select distinct comp, lane from {{ probe }}) as lanes
    on {{ 'node_comps' if node_column is not none else 'copied' }}.comp = lanes.comp
{% endmacro %}


{#- the probed prefixes of the tentative decisions, one copy per lane -#}
{% macro idstitch_res_lane_tentative_sql(tentative, probe, stride) %}
select
    tentative.event_rank,
    tentative.strategy,
    tentative.role,
    tentative.item_order,
    tentative.node_key + probe.lane * {{ stride }} as node_key,
    tentative.anchor_key + probe.lane * {{ stride }} as anchor_key,
    tentative.node_exists,
    tentative.decision,
    tentative.reason,
    tentative.limit_type,
    tentative.kind,
    tentative.creates,
    tentative.touched,
    tentative.event_rejection,
    tentative.event_at,
    tentative.unites,
    tentative.comp + probe.lane * {{ stride }} as comp,
    tentative.event_index,
    tentative.first_rank
from {{ tentative }} as tentative
inner join {{ probe }} as probe
    on tentative.comp = probe.comp and tentative.event_index <= probe.mid
{% endmacro %}


{#-
    The lanes' verdicts folded back into one (lo, hi) per component: hi below the shortest
    refuted prefix, lo at the longest verified prefix below it (a lane's lo is its probed
    length when verified, else the old lo; a lane's hi is its length - 1 when refuted)
-#}
{% macro idstitch_res_narrow_sql(bounds, verdicts, stride) %}
with

verdicts as (
    select
        mod(comp, {{ stride }}) as comp,
        lo,
        hi
    from {{ verdicts }}
),

refuted as (
    select
        comp,
        min(hi) as hi
    from verdicts
    group by comp
),

verified as (
    select
        verdicts.comp,
        max(verdicts.lo) as lo
    from verdicts
    inner join refuted
        on verdicts.comp = refuted.comp and verdicts.lo <= refuted.hi
    group by verdicts.comp
)

select
    bounds.comp,
    bounds.events,
    coalesce(verified.lo, bounds.lo) as lo,
    coalesce(refuted.hi, bounds.hi) as hi
from {{ bounds }} as bounds
left join refuted
    on bounds.comp = refuted.comp
left join verified
    on bounds.comp = verified.comp
{% endmacro %}


{#- the items of the events not yet resolved -#}
{% macro idstitch_res_pending_sql(items, progress) %}
select items.*
from {{ items }} as items
inner join {{ progress }} as progress
    on items.comp = progress.comp and items.event_rank >= progress.next_rank
{% endmacro %}


{#- tentative decisions with each event's index in its component and each node's first creator -#}
{% macro idstitch_res_tentative_sql(pending, state, anchors, never, node_types, seen) %}
with

decided as (
    {{ idstitch_decide_sql(pending, state, anchors, never, node_types, seen, pending) | indent(4) }}
),

events as (
    select
        event_rank,
        comp,
        dense_rank() over (partition by comp order by event_rank) as event_index
    from (select distinct event_rank, comp from {{ pending }}) as pending_events
),

first_creators as (
    select
        node_key,
        min(event_rank) as first_rank
    from decided
    where creates = 1
    group by node_key
)

select
    decided.*,
    events.comp,
    events.event_index,
    first_creators.first_rank
from decided
inner join events
    on decided.event_rank = events.event_rank
left join first_creators
    on decided.node_key = first_creators.node_key
{% endmacro %}


{#-
    Per component: lo = longest prefix known to hold (0), hi = longest prefix allowed, which
    stops before the first event whose view of existence the earlier events changed.
-#}
{% macro idstitch_res_bounds_sql(tentative) %}
with

existence_changes as (
    select
        comp,
        min(event_index) as first_changed
    from {{ tentative }}
    where
        (strategy not in ('merge', 'manual') or role = 'alias')
        and node_exists = 0
        and first_rank < event_rank
    group by comp
),

sizes as (
    select
        comp,
        max(event_index) as events
    from {{ tentative }}
    group by comp
)

select
    sizes.comp,
    sizes.events,
    0 as lo,
    coalesce(existence_changes.first_changed - 1, sizes.events) as hi
from sizes
left join existence_changes
    on sizes.comp = existence_changes.comp
{% endmacro %}


{#-
    The prefix lengths to probe: `count` lengths spread evenly over (lo, hi]. The first probe of
    a round includes hi, the longest allowed (often the whole rest verifies); later probes split
    (lo, hi] into count + 1 equal parts, the k-ary form of bisection (one lane: the midpoint).
    Equal lengths are probed once.
-#}
{% macro idstitch_res_probe_sql(bounds, count, first) %}
{%- set parts = count if first else count + 1 %}
with

lanes as (
    {%- for l in range(count) %}
    select {{ l }} as lane{% if not loop.last %}
    union all{% endif %}
    {%- endfor %}
),

lengths as (
    select
        bounds.comp,
        lanes.lane,
        bounds.lo + cast(ceil((bounds.hi - bounds.lo) * (lanes.lane + 1) / {{ parts }}.0) as {{ dbt.type_bigint() }}) as mid
    from {{ bounds }} as bounds
    cross join lanes
    where bounds.lo < bounds.hi
)

select
    comp,
    min(lane) as lane,
    mid
from lengths
group by comp, mid
{% endmacro %}


{#-
    The node pairs of H, contracted through the state: the links and new nodes of each probed
    prefix, each end replaced by its profile in S. The state's profiles are connected already,
    so the components of these pairs, composed with the state (idstitch_res_hstate_sql), are
    the components of H; the graph holds only what the prefix touches, and the loop needs
    fewer rounds than over every node of S.
-#}
{% macro idstitch_res_prefix_pairs_sql(state, tentative, probe) %}
with

-- an applied item links its node to its anchor; a node created without a link is a pair
-- with itself (a created node that is also linked needs no such pair)
prefix_pairs as (
    select
        case when tentative.decision = 'applied' then tentative.anchor_key else tentative.node_key end as node_a,
        tentative.node_key as node_b
    from {{ tentative }} as tentative
    inner join {{ probe }} as probe
        on tentative.comp = probe.comp and tentative.event_index <= probe.mid
    where tentative.decision = 'applied' or tentative.creates = 1
)

select
    coalesce(state_a.profile, prefix_pairs.node_a) as node_a,
    coalesce(state_b.profile, prefix_pairs.node_b) as node_b
from prefix_pairs
left join {{ state }} as state_a
    on prefix_pairs.node_a = state_a.node
left join {{ state }} as state_b
    on prefix_pairs.node_b = state_b.node
{% endmacro %}


{#-
    After a probe's verdicts: the components whose longest verified prefix grew (`new_bounds.lo`
    above `bounds.lo`) take the H of the lane that probed that length, its keys moved back out
    of the lane's key space; the others keep what they had. So applying the round's prefix
    needs no connected-components run of its own (idstitch_res_verified_hstate_sql).
-#}
{% macro idstitch_res_keep_verified_sql(verified, bounds, new_bounds, probe, hstate, node_types, stride) %}
with

moved as (
    select
        new_bounds.comp,
        probe.lane
    from {{ new_bounds }} as new_bounds
    inner join {{ bounds }} as old_bounds
        on new_bounds.comp = old_bounds.comp
    inner join {{ probe }} as probe
        on new_bounds.comp = probe.comp and new_bounds.lo = probe.mid
    where new_bounds.lo > old_bounds.lo
),

nodes as (
    select distinct
        node_key,
        comp
    from {{ node_types }}
)

select
    kept.node_key,
    kept.component_key,
    kept.comp
from {{ verified }} as kept
left join moved
    on kept.comp = moved.comp
where moved.comp is null
union all
select
    nodes.node_key,
    h.component_key - moved.lane * {{ stride }} as component_key,
    moved.comp
from {{ hstate }} as h
inner join nodes
    on mod(h.node_key, {{ stride }}) = nodes.node_key
inner join moved
    on nodes.comp = moved.comp and h.node_key = nodes.node_key + moved.lane * {{ stride }}
{% endmacro %}


{#- H of the round's verified prefixes by node: the kept H of each component that verified a
    prefix, and S for every other node -#}
{% macro idstitch_res_verified_hstate_sql(state, verified) %}
select
    node_key,
    component_key
from {{ verified }}
union all
select
    state.node as node_key,
    state.profile as component_key
from {{ state }} as state
left join {{ verified }} as verified
    on state.node = verified.node_key
where verified.node_key is null
{% endmacro %}


{#- H by node: a node of S goes where its profile went (or stays with it), a new node where
    the components of the contracted pairs put it -#}
{% macro idstitch_res_hstate_sql(state, hprofiles) %}
select
    state.node as node_key,
    coalesce(hprofiles.component_key, state.profile) as component_key
from {{ state }} as state
left join {{ hprofiles }} as hprofiles
    on state.profile = hprofiles.node_key
union all
select
    hprofiles.node_key,
    hprofiles.component_key
from {{ hprofiles }} as hprofiles
left join {{ state }} as state
    on hprofiles.node_key = state.node
where state.node is null
{% endmacro %}


{#-
    Check every probed prefix against its H: every profile within the limits and free of
    never-merge pairs, and every "owned by another profile" or "several profiles matched"
    still separated. Moves lo up to a verified probe, hi below a refuted one.
    A limit over a period (docs/semantics.md §3b) is checked at each event of the prefix that
    put values into a profile, and at each limit refusal for the types of higher priority:
    the values of the type in the event's H profile that the event carries or that were
    observed within the period before it (`seen`, then the prefix's own earlier events). H's
    profiles hold every profile the event could have met, and the earlier decisions of a
    verified prefix all hold, so the count bounds the true one from above.
-#}
{% macro idstitch_res_verify_sql(bounds, probe, tentative, hstate, state, never, node_types, seen) %}
{%- set windowed = idstitch_window_types() | length > 0 %}
with

prefix as (
    select tentative.*
    from {{ tentative }} as tentative
    inner join {{ probe }} as probe
        on tentative.comp = probe.comp and tentative.event_index <= probe.mid
),

existing as (
    select node as node_key from {{ state }}
    union all
    select node_key from prefix where creates = 1
),

h_nodes as (
    select distinct
        h.node_key,
        h.component_key,
        node_types.id_type,
        node_types.comp
    from existing
    inner join {{ hstate }} as h
        on existing.node_key = h.node_key
    inner join {{ node_types }} as node_types
        on existing.node_key = node_types.node_key
),

over_limit as (
    select distinct comp
    from (
        select
            comp,
            component_key,
            id_type,
            count(*) as nodes
        from h_nodes
        group by comp, component_key, id_type
    ) as type_counts
    where nodes > {{ idstitch_limit_of('id_type', ever_only=true) }}
),

never_joined as (
    select distinct node_a_h.comp
    from {{ never }} as never
    inner join h_nodes as node_a_h
        on never.node_a = node_a_h.node_key
    inner join h_nodes as node_b_h
        on never.node_b = node_b_h.node_key
    where node_a_h.component_key = node_b_h.component_key
),

owners_joined as (
    select distinct prefix.comp
    from prefix
    inner join {{ hstate }} as h_node
        on prefix.node_key = h_node.node_key
    inner join {{ hstate }} as h_anchor
        on prefix.anchor_key = h_anchor.node_key
    where
        prefix.reason = 'owned_by_other_profile'
        and h_node.component_key = h_anchor.component_key
),

profiles_joined as (
    select distinct comp
    from (
        select
            prefix.comp,
            prefix.event_rank,
            count(distinct h.component_key) as profiles
        from prefix
        inner join {{ hstate }} as h
            on prefix.node_key = h.node_key
        where
            prefix.event_rejection = 'multiple_profiles_matched'
            and prefix.role = 'id'
            and prefix.node_exists = 1
        group by prefix.comp, prefix.event_rank
    ) as strict_events
    where profiles < 2
),

-- a refusal's reason must hold too: a limit refusal is only right if no never-merge pair would
-- also refuse it (never_merge comes first), and its limit_type only if no type of higher
-- priority would overflow; both are checked against the upper bound H
limit_refusals as (
    select
        prefix.comp,
        prefix.event_rank,
        prefix.node_key,
        prefix.limit_type,
        h_anchor.component_key as anchor_comp,
        h_node.component_key as node_comp
    from prefix
    left join {{ hstate }} as h_anchor
        on prefix.anchor_key = h_anchor.node_key
    left join {{ hstate }} as h_node
        on prefix.node_key = h_node.node_key
    where prefix.decision = 'skipped' and prefix.reason = 'limit_exceeded'
),

never_h as (
    select
        never.node_b,
        h_a.component_key as comp_a,
        h_b.component_key as comp_b
    from {{ never }} as never
    inner join {{ hstate }} as h_a
        on never.node_a = h_a.node_key
    left join {{ hstate }} as h_b
        on never.node_b = h_b.node_key
),

never_behind_limits as (
    select distinct limit_refusals.comp
    from limit_refusals
    inner join never_h
        on limit_refusals.anchor_comp = never_h.comp_a
    where
        never_h.comp_b = limit_refusals.node_comp
        or (limit_refusals.node_comp is null and never_h.node_b = limit_refusals.node_key)
),

h_type_counts as (
    select
        component_key,
        id_type,
        count(*) as nodes
    from h_nodes
    group by component_key, id_type
),

-- the H profiles a limit refusal would have joined: the anchor's, and the node's when it is
-- another (two rows, so that each side is an equality join: a join on either of two keys
-- cannot be hashed, and pairs every refusal with every profile)
refusal_sides as (
    select
        comp,
        event_rank,
        node_key,
        limit_type,
        anchor_comp as profile
    from limit_refusals
    where limit_type is not null and anchor_comp is not null
    union all
    select
        comp,
        event_rank,
        node_key,
        limit_type,
        node_comp as profile
    from limit_refusals
    where
        limit_type is not null
        and node_comp is not null
        and (anchor_comp is null or node_comp != anchor_comp)
),

higher_limits as (
    select distinct comp
    from (
        select
            refusal_sides.comp,
            refusal_sides.event_rank,
            refusal_sides.node_key,
            h_type_counts.id_type,
            sum(h_type_counts.nodes) as nodes
        from refusal_sides
        inner join h_type_counts
            on refusal_sides.profile = h_type_counts.component_key
        where {{ idstitch_priority_of('h_type_counts.id_type') }} < {{ idstitch_priority_of('refusal_sides.limit_type') }}
        group by refusal_sides.comp, refusal_sides.event_rank, refusal_sides.node_key, h_type_counts.id_type
    ) as union_counts
    where nodes > {{ idstitch_limit_of('id_type', ever_only=true) }}
),
{%- if windowed %}

-- limits over a period: what each check counts (kind 'united': an event that put values into a
-- profile, every such type; kind 'refused': a limit refusal, the types it outranks)
window_checks as (
    select distinct
        prefix.comp,
        prefix.event_rank,
        prefix.event_at,
        'united' as kind,
        prefix.event_rank as check_key,
        h.component_key as profile,
        {{ idstitch_config()['id_types'] | length + 1 }} as below_priority
    from prefix
    inner join {{ hstate }} as h
        on prefix.anchor_key = h.node_key
    where prefix.unites = 1
    union all
    select
        refusals.comp,
        refusals.event_rank,
        prefix.event_at,
        'refused' as kind,
        refusals.node_key as check_key,
        sides.profile,
        {{ idstitch_priority_of('refusals.limit_type') }} as below_priority
    from limit_refusals as refusals
    inner join prefix
        on refusals.event_rank = prefix.event_rank and refusals.node_key = prefix.node_key
    inner join (
        select
            event_rank,
            node_key,
            anchor_comp as profile
        from limit_refusals
        union all
        select
            event_rank,
            node_key,
            node_comp as profile
        from limit_refusals
        where node_comp is not null
    ) as sides
        on refusals.event_rank = sides.event_rank and refusals.node_key = sides.node_key
    where refusals.limit_type is not null
),

-- when nodes were observed: the state's events, and the prefix's events (an event's own items
-- count at the event, its touches after it)
window_seen as (
    select
        node_key,
        -1 as event_rank,
        event_at,
        1 as touched
    from {{ seen }}
    union all
    select
        node_key,
        event_rank,
        event_at,
        touched
    from prefix
),

window_members as (
    select
        checks.comp,
        checks.event_rank,
        checks.kind,
        checks.check_key,
        h_nodes.node_key,
        h_nodes.id_type
    from window_checks as checks
    inner join h_nodes
        on checks.profile = h_nodes.component_key
    inner join window_seen
        on h_nodes.node_key = window_seen.node_key and window_seen.event_rank <= checks.event_rank
    where
        {{ idstitch_window_of('h_nodes.id_type') }} is not null
        and {{ idstitch_priority_of('h_nodes.id_type') }} < checks.below_priority
        and (
            window_seen.event_rank = checks.event_rank
            or (
                window_seen.touched = 1
                and window_seen.event_at > checks.event_at - {{ idstitch_window_of('h_nodes.id_type') }}
            )
        )
    -- a refused new value that was not created is in no H profile: it counts for itself
    union all
    select
        refusals.comp,
        refusals.event_rank,
        'refused' as kind,
        refusals.node_key as check_key,
        refusals.node_key,
        node_types.id_type
    from limit_refusals as refusals
    inner join {{ node_types }} as node_types
        on refusals.node_key = node_types.node_key
    where
        refusals.node_comp is null
        and refusals.limit_type is not null
        and {{ idstitch_window_of('node_types.id_type') }} is not null
        and {{ idstitch_priority_of('node_types.id_type') }} < {{ idstitch_priority_of('refusals.limit_type') }}
),

window_over as (
    select distinct comp
    from (
        select
            comp,
            event_rank,
            kind,
            check_key,
            id_type,
            count(distinct node_key) as nodes
        from window_members
        group by comp, event_rank, kind, check_key, id_type
    ) as window_counts
    where nodes > {{ idstitch_limit_of('id_type') }}
),
{%- endif %}

strict_limit_ids as (
    select
        comp,
        event_rank,
        node_key,
        node_exists
    from prefix
    where event_rejection = 'limit_exceeded' and role = 'id'
),

strict_profiles as (
    select distinct
        strict_limit_ids.event_rank,
        h.component_key
    from strict_limit_ids
    inner join {{ hstate }} as h
        on strict_limit_ids.node_key = h.node_key
    where strict_limit_ids.node_exists = 1
),

never_behind_strict as (
    select distinct new_ids.comp
    from strict_limit_ids as new_ids
    inner join {{ never }} as never
        on new_ids.node_key = never.node_a
    left join {{ hstate }} as h_partner
        on never.node_b = h_partner.node_key
    left join strict_profiles
        on new_ids.event_rank = strict_profiles.event_rank and h_partner.component_key = strict_profiles.component_key
    left join strict_limit_ids as partner_new
        on
            new_ids.event_rank = partner_new.event_rank
            and never.node_b = partner_new.node_key
            and partner_new.node_exists = 0
    where
        new_ids.node_exists = 0
        and (strict_profiles.component_key is not null or partner_new.node_key is not null)
),

refuted as (
    select distinct comp
    from (
        select comp from over_limit
        union all
        select comp from never_joined
        union all
        select comp from owners_joined
        union all
        select comp from profiles_joined
        union all
        select comp from never_behind_limits
        union all
        select comp from higher_limits
        union all
        select comp from never_behind_strict
        {%- if windowed %}
        union all
        select comp from window_over
        {%- endif %}
    ) as reasons
)

select
    bounds.comp,
    bounds.events,
    case when probe.comp is not null and refuted.comp is null then probe.mid else bounds.lo end as lo,
    case when probe.comp is not null and refuted.comp is not null then probe.mid - 1 else bounds.hi end as hi
from {{ bounds }} as bounds
left join {{ probe }} as probe
    on bounds.comp = probe.comp
left join refuted
    on bounds.comp = refuted.comp
{% endmacro %}


{#- the decisions of the verified prefixes; a node is created by its first creator -#}
{% macro idstitch_res_prefix_decisions_sql(tentative, bounds) %}
select
    tentative.event_rank,
    tentative.role,
    tentative.item_order,
    tentative.node_key,
    tentative.anchor_key,
    tentative.decision,
    tentative.reason,
    tentative.limit_type,
    tentative.kind,
    case when tentative.creates = 1 and tentative.first_rank = tentative.event_rank then 1 else 0 end as created,
    tentative.touched,
    tentative.event_rejection
from {{ tentative }} as tentative
inner join {{ bounds }} as bounds
    on tentative.comp = bounds.comp and tentative.event_index <= bounds.lo
{% endmacro %}


{#- the state after the verified prefixes: every existing node with its H component -#}
{% macro idstitch_res_prefix_state_sql(state, tentative, bounds, hstate) %}
with

existing as (
    select node as node_key from {{ state }}
    union all
    select tentative.node_key
    from {{ tentative }} as tentative
    inner join {{ bounds }} as bounds
        on tentative.comp = bounds.comp and tentative.event_index <= bounds.lo
    where tentative.creates = 1
)

select distinct
    h.node_key as node,
    h.component_key as profile
from existing
inner join {{ hstate }} as h
    on existing.node_key = h.node_key
{% endmacro %}


{#- where each component goes on: the event after the exactly decided one, if any -#}
{% macro idstitch_res_next_progress_sql(tentative, bounds) %}
select
    tentative.comp,
    min(tentative.event_rank) as next_rank
from {{ tentative }} as tentative
inner join {{ bounds }} as bounds
    on tentative.comp = bounds.comp and tentative.event_index >= bounds.lo + 2
group by tentative.comp
{% endmacro %}


{#-
    Decide exactly the first unverified event of every component, against the true state
    before it (the state after the verified prefix): event-level choices first (anchor, strict,
    the nodes a merge creates), then the other items one at a time, in item order, `steps`
    steps (idstitch_res_close_answers bounds how many there can be; a step with no item left
    changes nothing). Returns the statements, which need no answer in between.
-#}
{% macro idstitch_res_exact_sql(pending, tentative, bounds, node_types, never, state, seen, decisions, steps) %}
    {%- set windowed = idstitch_window_types() | length > 0 -%}
    {%- set events = idstitch_scratch_relation(pending, 'exact') -%}
    {%- set anchors = idstitch_scratch_relation(pending, 'exact_anchors') -%}
    {%- set decided = idstitch_scratch_relation(pending, 'exact_decided') -%}
    {%- set step = idstitch_scratch_relation(pending, 'exact_step') -%}
    {%- set next_state = idstitch_scratch_relation(pending, 'exact_state') -%}
    {%- set step_decided = idstitch_scratch_relation(pending, 'exact_step_decided') -%}
    {%- set record = 'insert into ' ~ decisions ~ ' (' ~ idstitch_res_decision_columns() ~ ')\n' -%}
    {%- set statements = [
        idstitch_create_table_as(step, idstitch_res_exact_items_sql(pending, tentative, bounds, state)),
        idstitch_create_table_as(anchors, idstitch_anchors_sql(step, state)),
        idstitch_create_table_as(events, idstitch_res_exact_steps_sql(step, anchors)),
        idstitch_create_table_as(step, idstitch_res_exact_event_items_sql(events, anchors)),
        idstitch_create_table_as(decided, idstitch_decide_sql(step, state, anchors, never, node_types, seen, events)),
        record ~ idstitch_res_exact_record_sql(decided, events),
    ] + ([idstitch_res_seen_insert_sql(seen, 'decided', '', decided)] if windowed else []) + [
        idstitch_create_table_as(next_state, idstitch_res_exact_apply_a_sql(state, decided, events, anchors)),
        idstitch_create_table_as(state, 'select * from ' ~ next_state),
    ] -%}
    {%- for item_step in range(1, steps + 1) -%}
        {%- do statements.extend([
            idstitch_create_table_as(step, idstitch_res_exact_step_items_sql(events, decided, item_step)),
            idstitch_create_table_as(step_decided, idstitch_decide_sql(step, state, anchors, never, node_types, seen, events)),
            record ~ idstitch_res_exact_record_sql(step_decided, events),
        ] + ([idstitch_res_seen_insert_sql(seen, 'decided', '', step_decided)] if windowed else []) + [
            idstitch_create_table_as(next_state, idstitch_res_exact_apply_item_sql(state, step_decided, anchors)),
            idstitch_create_table_as(state, 'select * from ' ~ next_state),
        ]) -%}
    {%- endfor -%}
    {%- do statements.extend(idstitch_drops_sql(
        [events, anchors, decided, step, next_state] + ([step_decided] if steps > 0 else []))) -%}
    {{ return(statements) }}
{% endmacro %}


{#-
    What a round's closing needs to know once (lo, hi) of `bounds` is final, as scalar queries,
    asked with a probe: the events the round decides (the verified prefixes and the exact event
    after each), the components left after it and their items (the tentative items of the
    events after the exact one, which are every item left), and a bound on the exact step's
    item steps: the most items of one exact event that can take a step of their own (aliases,
    and the ids of merge, manual and first_alias events but the anchor, which is one of the
    event's ids; idstitch_res_exact_steps_sql, idstitch_anchors_sql).
-#}
{% macro idstitch_res_close_answers(tentative, bounds) %}
    {%- set exact_event = 'inner join ' ~ bounds ~ ' as bounds on tentative.comp = bounds.comp and tentative.event_index' -%}
    {{- return([
        'select coalesce(sum(lo + case when lo < events then 1 else 0 end), 0) from ' ~ bounds,
        'select count(distinct tentative.comp) from ' ~ tentative ~ ' as tentative ' ~ exact_event ~ ' >= bounds.lo + 2',
        'select count(*) from ' ~ tentative ~ ' as tentative ' ~ exact_event ~ ' >= bounds.lo + 2',
        'select coalesce(max(items), 0) from (select tentative.event_rank,'
            ~ " sum(case when tentative.role = 'alias' then 1 else 0 end) + greatest(sum(case when tentative.role = 'id'"
            ~ " and tentative.strategy in ('merge', 'manual', 'first_alias') then 1 else 0 end) - 1, 0) as items from "
            ~ tentative ~ ' as tentative ' ~ exact_event ~ ' = bounds.lo + 1 group by tentative.event_rank) as stepped',
    ]) -}}
{% endmacro %}


{#- the items of the events to decide exactly, with whether each node existed before -#}
{% macro idstitch_res_exact_items_sql(pending, tentative, bounds, state) %}
with

exact_events as (
    select distinct tentative.event_rank
    from {{ tentative }} as tentative
    inner join {{ bounds }} as bounds
        on tentative.comp = bounds.comp and tentative.event_index = bounds.lo + 1
),

exact_items as (
    select
        pending.*,
        case when state.node is not null then 1 else 0 end as existed
    from {{ pending }} as pending
    inner join exact_events
        on pending.event_rank = exact_events.event_rank
    left join {{ state }} as state
        on pending.node_key = state.node
)

select * from exact_items
{% endmacro %}


{#- number the items decided one at a time: other ids (merge, manual, first_alias), then aliases -#}
{% macro idstitch_res_exact_steps_sql(items, anchors) %}
with

stepped as (
    select
        items.*,
        anchors.anchor_key,
        case
            when items.role = 'alias' then 1
            when items.strategy in ('merge', 'manual', 'first_alias') and items.node_key != anchors.anchor_key then 1
            else 0
        end as is_stepped
    from {{ items }} as items
    inner join {{ anchors }} as anchors
        on items.event_rank = anchors.event_rank
)

select
    stepped.*,
    case
        when is_stepped = 1
            then row_number() over (
                partition by event_rank, is_stepped
                order by case when role = 'id' then 0 else 1 end, item_order
            )
    end as item_step
from stepped
{% endmacro %}


{#- the event-level step: strict events whole, every anchor, the ids a first event ignores -#}
{% macro idstitch_res_exact_event_items_sql(events, anchors) %}
select
    event_rank,
    strategy,
    role,
    item_order,
    node_key,
    id_type,
    event_at,
    comp
from {{ events }}
where role = 'id' and (strategy in ('strict', 'first') or node_key = anchor_key)
{% endmacro %}


{#- decisions to record; a merge creates each of its ids that did not exist before the event -#}
{% macro idstitch_res_exact_record_sql(decided, events) %}
select
    decided.event_rank,
    decided.role,
    decided.item_order,
    decided.node_key,
    decided.anchor_key,
    decided.decision,
    decided.reason,
    decided.limit_type,
    decided.kind,
    case
        when decided.role = 'id' and decided.strategy in ('merge', 'manual') then 1 - events.existed
        else decided.creates
    end as created,
    decided.touched,
    decided.event_rejection
from {{ decided }} as decided
inner join {{ events }} as events
    on
        decided.event_rank = events.event_rank
        and decided.node_key = events.node_key
        and decided.role = events.role
{% endmacro %}


{#- the state after the event-level step: new anchors, strict additions, every merge id -#}
{% macro idstitch_res_exact_apply_a_sql(state, decided, events, anchors) %}
select distinct
    node,
    profile
from (
    select
        node,
        profile
    from {{ state }}
    union all
    select
        node_key as node,
        node_key as profile
    from {{ decided }}
    where decision = 'anchor' and creates = 1
    union all
    select
        decided.node_key as node,
        coalesce(anchor_state.profile, decided.anchor_key) as profile
    from {{ decided }} as decided
    left join {{ state }} as anchor_state
        on decided.anchor_key = anchor_state.node
    where decided.strategy = 'strict' and decided.decision = 'applied' and decided.creates = 1
    union all
    select
        node_key as node,
        node_key as profile
    from {{ events }}
    where role = 'id' and strategy in ('merge', 'manual') and existed = 0
) as nodes
{% endmacro %}


{#- the items of one exact step, for events that were not rejected -#}
{% macro idstitch_res_exact_step_items_sql(events, decided, item_step) %}
select
    events.event_rank,
    events.strategy,
    events.role,
    events.item_order,
    events.node_key,
    events.id_type,
    events.event_at,
    events.comp
from {{ events }} as events
where
    events.item_step = {{ item_step }}
    and not exists (
        select 1
        from {{ decided }} as decided
        where decided.event_rank = events.event_rank and decided.event_rejection is not null
    )
{% endmacro %}


{#- the state after one exact step: merge unions relabel a profile, new aliases join one -#}
{% macro idstitch_res_exact_apply_item_sql(state, decided, anchors) %}
with

moves as (
    select distinct
        node_state.profile as from_profile,
        anchor_state.profile as to_profile
    from {{ decided }} as decided
    inner join {{ state }} as node_state
        on decided.node_key = node_state.node
    inner join {{ state }} as anchor_state
        on decided.anchor_key = anchor_state.node
    where
        decided.decision = 'applied'
        and decided.role = 'id'
        and decided.strategy in ('merge', 'manual')
        and node_state.profile != anchor_state.profile
),

attached as (
    select
        decided.node_key as node,
        anchor_state.profile
    from {{ decided }} as decided
    inner join {{ state }} as anchor_state
        on decided.anchor_key = anchor_state.node
    where decided.decision = 'applied' and decided.creates = 1
)

select
    state.node,
    coalesce(moves.to_profile, state.profile) as profile
from {{ state }} as state
left join moves
    on state.profile = moves.from_profile
union all
select
    node,
    profile
from attached
{% endmacro %}


{#- append to `seen` the nodes that decided rows (alias `alias` of `relation`, with `joins`) touched -#}
{% macro idstitch_res_seen_insert_sql(seen, alias, joins, relation) %}
    {{- return('insert into ' ~ seen ~ ' (node_key, event_at)\nselect ' ~ alias ~ '.node_key, ' ~ alias
        ~ '.event_at\nfrom ' ~ relation ~ ' as ' ~ alias ~ (('\n' ~ joins) if joins else '')
        ~ '\nwhere ' ~ alias ~ '.touched = 1') -}}
{% endmacro %}
