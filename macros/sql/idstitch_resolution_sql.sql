{#-
    SQL of ordered resolution (docs/semantics.md §3), used by the idstitch_resolution materialization.

    Vocabulary. An item is one valid identifier (role 'id') or alias (role 'alias') of an
    accepted event; items carry the event's rank in the global order, its strategy and the
    item's order inside the event (ids by priority then value, then aliases). The state is the
    table (node, profile) of the nodes that exist, profile being any node of the profile. The
    group of a node is its profile if it exists, else the node alone (gkey).

    `idstitch_decide_sql` decides items against a state, for every strategy. The loop calls it
    on whole batches (tentative decisions, then verified) and on single items (exact steps).
-#}

{#- the configured limit of the type in `type_expr` (null when the type has none); with
    `ever_only`, only limits that count every value (a limit over a period is null) -#}
{% macro idstitch_limit_of(type_expr, ever_only=false) %}
    {%- set limited = idstitch_config()['id_types'] | selectattr('limit') | list -%}
    {%- if ever_only -%}
        {%- set limited = limited | selectattr('limit_days', 'none') | list -%}
    {%- endif -%}
    {%- if limited | length == 0 -%}
        {{- return('cast(null as ' ~ dbt.type_int() ~ ')') -}}
    {%- endif -%}
    {%- set parts = ['case ' ~ type_expr] -%}
    {%- for t in limited -%}
        {%- do parts.append('when ' ~ idstitch_literal(t['name']) ~ ' then ' ~ t['limit']) -%}
    {%- endfor -%}
    {%- do parts.append('end') -%}
    {{- return(parts | join(' ')) -}}
{% endmacro %}


{#- the types whose limit counts only the values seen within a period (docs/semantics.md §3b) -#}
{% macro idstitch_window_types() %}
    {{- return(idstitch_config()['id_types'] | selectattr('limit') | rejectattr('limit_days', 'none') | list) -}}
{% endmacro %}


{#- the period, in microseconds, of the limit of the type in `type_expr` (null: counts every value) -#}
{% macro idstitch_window_of(type_expr) %}
    {%- set windowed = idstitch_window_types() -%}
    {%- if windowed | length == 0 -%}
        {{- return('cast(null as ' ~ dbt.type_bigint() ~ ')') -}}
    {%- endif -%}
    {%- set parts = ['case ' ~ type_expr] -%}
    {%- for t in windowed -%}
        {%- do parts.append('when ' ~ idstitch_literal(t['name']) ~ ' then ' ~ (t['limit_days'] * 86400000000)) -%}
    {%- endfor -%}
    {%- do parts.append('end') -%}
    {{- return(parts | join(' ')) -}}
{% endmacro %}


{#- a timestamp as whole microseconds since 1970: event times compared with windows as integers -#}
{% macro idstitch_epoch_micros(expr) %}
    {{- return(adapter.dispatch('idstitch_epoch_micros', 'idstitch')(expr)) -}}
{% endmacro %}

{% macro default__idstitch_epoch_micros(expr) %}epoch_us({{ expr }}){% endmacro %}

{% macro snowflake__idstitch_epoch_micros(expr) %}date_part(epoch_microsecond, {{ expr }}){% endmacro %}

{% macro bigquery__idstitch_epoch_micros(expr) %}unix_micros({{ expr }}){% endmacro %}


{#- the priority (1 = highest) of the type in `type_expr` -#}
{% macro idstitch_priority_of(type_expr) %}
    {%- set parts = ['case ' ~ type_expr] -%}
    {%- for t in idstitch_config()['id_types'] -%}
        {%- do parts.append('when ' ~ idstitch_literal(t['name']) ~ ' then ' ~ t['priority']) -%}
    {%- endfor -%}
    {%- do parts.append('end') -%}
    {{- return(parts | join(' ')) -}}
{% endmacro %}


{#- the type of the priority in `priority_expr` -#}
{% macro idstitch_type_of_priority(priority_expr) %}
    {%- set parts = ['case ' ~ priority_expr] -%}
    {%- for t in idstitch_config()['id_types'] -%}
        {%- do parts.append('when ' ~ t['priority'] ~ ' then ' ~ idstitch_literal(t['name'])) -%}
    {%- endfor -%}
    {%- do parts.append('end') -%}
    {{- return(parts | join(' ')) -}}
{% endmacro %}


{#-
    The anchor of each event of `items` under `state`: the first id for merge and manual, the
    first id that exists (else the first id) for first, first_alias and strict. A node exists
    when it is in `state`, or, with `existed` (a condition on the item, alias `items`), when
    that holds.
-#}
{% macro idstitch_anchors_sql(items, state, existed=none) %}
with

event_ids as (
    select
        items.event_rank,
        items.strategy,
        items.item_order,
        items.node_key,
        case when {{ existed if existed is not none else 'state.node is not null' }} then 1 else 0 end as node_exists
    from {{ items }} as items
    {%- if existed is none %}
    left join {{ state }} as state
        on items.node_key = state.node
    {%- endif %}
    where items.role = 'id'
),

anchor_orders as (
    select
        event_rank,
        coalesce(
            case when max(strategy) in ('merge', 'manual') then min(item_order) end,
            min(case when node_exists = 1 then item_order end),
            min(item_order)
        ) as anchor_order
    from event_ids
    group by event_rank
)

select
    anchor_orders.event_rank,
    event_ids.node_key as anchor_key
from anchor_orders
inner join event_ids
    on
        anchor_orders.event_rank = event_ids.event_rank
        and anchor_orders.anchor_order = event_ids.item_order
{% endmacro %}


{#-
    Decide the items of `items` against `state` with the anchors of `anchors`.
    `never` holds never-merge pairs (node_a, node_b) in both directions; `node_types`
    (node_key, id_type) covers every node that can occur.
    One row per item: decision (anchor | applied | skipped | ignored | rejected), reason,
    limit_type, kind (violation | skipped_alias | null), creates (the item makes a new node),
    touched (the event counts for the node), node_exists, event_rejection (strict), event_at,
    unites (an applied item that put a value into another group: what limits check).
    For a strict event every id item must be in `items`.
    Limits over a period (docs/semantics.md §3b) count a group's values of the type that are
    the event's own (in `event_items`, every item of the event) or were last observed within
    the period before the event: `seen` holds (node_key, event_at) for each earlier event that
    touched a node. Both are needed only when a type has such a limit.
-#}
{% macro idstitch_decide_sql(items, state, anchors, never, node_types, seen=none, event_items=none) %}
{%- set windowed = idstitch_window_types() | length > 0 %}
{%- if windowed and (seen is none or event_items is none) -%}
    {{ exceptions.raise_compiler_error('idstitch_decide_sql: a limit over a period needs `seen` and `event_items`') }}
{%- endif %}
with

items as (
    select * from {{ items }}
),

state as (
    select * from {{ state }}
),

placed as (
    select
        items.event_rank,
        items.strategy,
        items.role,
        items.item_order,
        items.node_key,
        items.id_type,
        items.event_at,
        anchors.anchor_key,
        node_state.profile as node_profile,
        coalesce(node_state.profile, items.node_key) as node_group,
        coalesce(anchor_state.profile, anchors.anchor_key) as anchor_group,
        case when node_state.node is not null then 1 else 0 end as node_exists
    from items
    inner join {{ anchors }} as anchors
        on items.event_rank = anchors.event_rank
    left join state as node_state
        on items.node_key = node_state.node
    left join state as anchor_state
        on anchors.anchor_key = anchor_state.node
),

group_counts as (
    select
        coalesce(state.profile, node_types.node_key) as node_group,
        node_types.id_type,
        count(*) as nodes
    from {{ node_types }} as node_types
    left join state
        on node_types.node_key = state.node
    group by coalesce(state.profile, node_types.node_key), node_types.id_type
),

never_groups as (
    select distinct
        coalesce(state_a.profile, never.node_a) as group_a,
        coalesce(state_b.profile, never.node_b) as group_b
    from {{ never }} as never
    left join state as state_a
        on never.node_a = state_a.node
    left join state as state_b
        on never.node_b = state_b.node
),

-- unions asked for: a merge id or a new alias-like node joining the anchor's group
union_asks as (
    select
        event_rank,
        node_key,
        anchor_group,
        node_group,
        strategy,
        event_at
    from placed
    where
        node_key != anchor_key
        and anchor_group != node_group
        and (
            (role = 'id' and strategy in ('merge', 'manual'))
            or (node_exists = 0 and (role = 'alias' or strategy = 'first_alias'))
        )
),

union_type_counts as (
    select
        event_rank,
        node_key,
        id_type,
        sum(nodes) as nodes
    from (
        select
            union_asks.event_rank,
            union_asks.node_key,
            group_counts.id_type,
            group_counts.nodes
        from union_asks
        inner join group_counts
            on union_asks.anchor_group = group_counts.node_group
        where union_asks.strategy != 'manual'
        union all
        select
            union_asks.event_rank,
            union_asks.node_key,
            group_counts.id_type,
            group_counts.nodes
        from union_asks
        inner join group_counts
            on union_asks.node_group = group_counts.node_group
        where union_asks.strategy != 'manual'
    ) as both_groups
    group by event_rank, node_key, id_type
),

{%- if windowed %}

-- limits over a period: each group's values of such a type, with when each was last observed
window_members as (
    select
        coalesce(state.profile, node_types.node_key) as node_group,
        node_types.node_key,
        node_types.id_type,
        seen.last_seen
    from {{ node_types }} as node_types
    left join state
        on node_types.node_key = state.node
    left join (
        select
            node_key,
            max(event_at) as last_seen
        from {{ seen }}
        group by node_key
    ) as seen
        on node_types.node_key = seen.node_key
    where {{ idstitch_window_of('node_types.id_type') }} is not null
),

own_items as (
    select distinct
        event_rank,
        node_key
    from {{ event_items }}
),

-- the values in the window of each union asked for: the event's own, or observed within the period
union_window_counts as (
    select
        asks.event_rank,
        asks.node_key,
        members.id_type,
        count(*) as nodes
    from (
        select
            event_rank,
            node_key,
            event_at,
            anchor_group as member_group
        from union_asks
        where strategy != 'manual'
        union all
        select
            event_rank,
            node_key,
            event_at,
            node_group as member_group
        from union_asks
        where strategy != 'manual'
    ) as asks
    inner join window_members as members
        on asks.member_group = members.node_group
    left join own_items
        on asks.event_rank = own_items.event_rank and members.node_key = own_items.node_key
    where
        own_items.node_key is not null
        or members.last_seen > asks.event_at - {{ idstitch_window_of('members.id_type') }}
    group by asks.event_rank, asks.node_key, members.id_type
),
{%- endif %}

union_limit_blocks as (
    select
        event_rank,
        node_key,
        min({{ idstitch_priority_of('id_type') }}) as limit_priority
    from (
        select
            event_rank,
            node_key,
            id_type
        from union_type_counts
        where nodes > {{ idstitch_limit_of('id_type', ever_only=true) }}
        {%- if windowed %}
        union all
        select
            event_rank,
            node_key,
            id_type
        from union_window_counts
        where nodes > {{ idstitch_limit_of('id_type') }}
        {%- endif %}
    ) as over_limit
    group by event_rank, node_key
),

union_never_blocks as (
    select distinct
        union_asks.event_rank,
        union_asks.node_key
    from union_asks
    inner join never_groups
        on
            union_asks.anchor_group = never_groups.group_a
            and union_asks.node_group = never_groups.group_b
),

-- strict events: the existing ids must sit in one profile, the new ids must fit it
strict_ids as (
    select * from placed
    where strategy = 'strict' and role = 'id'
),

strict_events as (
    select
        event_rank,
        count(distinct node_profile) as profiles,
        max(node_profile) as profile,
        max(event_at) as event_at
    from strict_ids
    group by event_rank
),

strict_type_counts as (
    select
        event_rank,
        id_type,
        sum(nodes) as nodes
    from (
        select
            strict_events.event_rank,
            group_counts.id_type,
            group_counts.nodes
        from strict_events
        inner join group_counts
            on strict_events.profile = group_counts.node_group
        union all
        select
            event_rank,
            id_type,
            1 as nodes
        from strict_ids
        where node_exists = 0
    ) as profile_and_new
    group by event_rank, id_type
),

{%- if windowed %}

-- a strict event's profile and new ids, counting only the values in the window
strict_window_counts as (
    select
        event_rank,
        id_type,
        count(*) as nodes
    from (
        select
            strict_events.event_rank,
            members.id_type
        from strict_events
        inner join window_members as members
            on strict_events.profile = members.node_group
        left join own_items
            on strict_events.event_rank = own_items.event_rank and members.node_key = own_items.node_key
        where
            own_items.node_key is not null
            or members.last_seen > strict_events.event_at - {{ idstitch_window_of('members.id_type') }}
        union all
        select
            event_rank,
            id_type
        from strict_ids
        where node_exists = 0 and {{ idstitch_window_of('id_type') }} is not null
    ) as profile_and_new
    group by event_rank, id_type
),
{%- endif %}

strict_limit_blocks as (
    select distinct event_rank
    from (
        select
            event_rank,
            id_type,
            nodes
        from strict_type_counts
        where nodes > {{ idstitch_limit_of('id_type', ever_only=true) }}
        {%- if windowed %}
        union all
        select
            event_rank,
            id_type,
            nodes
        from strict_window_counts
        where nodes > {{ idstitch_limit_of('id_type') }}
        {%- endif %}
    ) as over_limit
),

strict_never_blocks as (
    select distinct new_ids.event_rank
    from strict_ids as new_ids
    inner join {{ never }} as never
        on new_ids.node_key = never.node_a
    left join state as partner_state
        on never.node_b = partner_state.node
    inner join strict_events
        on new_ids.event_rank = strict_events.event_rank
    left join strict_ids as partner_new
        on
            new_ids.event_rank = partner_new.event_rank
            and never.node_b = partner_new.node_key
            and partner_new.node_exists = 0
    where
        new_ids.node_exists = 0
        and (partner_state.profile = strict_events.profile or partner_new.node_key is not null)
),

strict_outcomes as (
    select
        strict_events.event_rank,
        case
            when strict_events.profiles > 1 then 'multiple_profiles_matched'
            when strict_never_blocks.event_rank is not null then 'never_merge'
            when strict_limit_blocks.event_rank is not null then 'limit_exceeded'
        end as event_rejection
    from strict_events
    left join strict_never_blocks
        on strict_events.event_rank = strict_never_blocks.event_rank
    left join strict_limit_blocks
        on strict_events.event_rank = strict_limit_blocks.event_rank
),

decided as (
    select
        placed.event_rank,
        placed.strategy,
        placed.role,
        placed.item_order,
        placed.node_key,
        placed.anchor_key,
        placed.node_exists,
        placed.event_at,
        strict_outcomes.event_rejection,
        case
            when placed.strategy = 'manual' then 0
            when placed.role = 'id' and placed.strategy = 'strict' then 1 - placed.node_exists
            when placed.node_key = placed.anchor_key or placed.anchor_group = placed.node_group then 0
            when placed.role = 'id' and placed.strategy = 'merge' then 1
            when placed.node_exists = 0 and (placed.role = 'alias' or placed.strategy = 'first_alias') then 1
            else 0
        end as asks_union,
        case
            when strict_outcomes.event_rejection is not null then 'rejected'
            when placed.role = 'id' and placed.node_key = placed.anchor_key then 'anchor'
            when placed.role = 'id' and placed.strategy = 'first' then 'ignored'
            when placed.role = 'id' and placed.strategy = 'strict' then 'applied'
            when placed.anchor_group = placed.node_group then 'applied'
            when placed.node_exists = 1 and (placed.role = 'alias' or placed.strategy = 'first_alias')
                then 'skipped'
            when union_never_blocks.node_key is not null then 'skipped'
            when union_limit_blocks.node_key is not null then 'skipped'
            else 'applied'
        end as decision,
        case
            when strict_outcomes.event_rejection is not null then null
            when placed.role = 'id' and placed.node_key = placed.anchor_key then null
            when placed.role = 'id' and placed.strategy in ('first', 'strict') then null
            when placed.anchor_group = placed.node_group then null
            when placed.node_exists = 1 and (placed.role = 'alias' or placed.strategy = 'first_alias')
                then 'owned_by_other_profile'
            when union_never_blocks.node_key is not null then 'never_merge'
            when union_limit_blocks.node_key is not null then 'limit_exceeded'
        end as reason,
        case
            when union_never_blocks.node_key is null and union_limit_blocks.node_key is not null
                then {{ idstitch_type_of_priority('union_limit_blocks.limit_priority') }}
        end as limit_type
    from placed
    left join strict_outcomes
        on placed.event_rank = strict_outcomes.event_rank
    left join union_never_blocks
        on placed.event_rank = union_never_blocks.event_rank and placed.node_key = union_never_blocks.node_key
    left join union_limit_blocks
        on placed.event_rank = union_limit_blocks.event_rank and placed.node_key = union_limit_blocks.node_key
)

select
    event_rank,
    strategy,
    role,
    item_order,
    node_key,
    anchor_key,
    node_exists,
    decision,
    reason,
    case when decision = 'skipped' then limit_type end as limit_type,
    case
        when decision != 'skipped' then null
        when role = 'id' and strategy in ('merge', 'manual') then 'violation'
        else 'skipped_alias'
    end as kind,
    case
        when node_exists = 1 then 0
        when decision = 'anchor' then 1
        when decision = 'applied' then 1
        when decision = 'skipped' and role = 'id' and strategy in ('merge', 'manual') then 1
        else 0
    end as creates,
    case
        when decision in ('anchor', 'applied') then 1
        when decision = 'skipped' and role = 'id' and strategy in ('merge', 'manual') then 1
        else 0
    end as touched,
    event_rejection,
    event_at,
    case when decision = 'applied' then asks_union else 0 end as unites
from decided
{% endmacro %}
