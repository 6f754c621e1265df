-- One row per change of id of a group of nodes: the nodes that had old_rudder_id before this
-- run and have rudder_id after it. Kept across runs (a full rebuild appends too), so that
-- downstream tables keyed by rudder_id can remap: follow old_rudder_id -> rudder_id until the
-- id is current. reason: `merge` (the group joined a profile that already had an id, or
-- several profiles joined), `split` (the profile the group belonged to broke up: a value turned
-- shared, or a late event changed which unions apply), `rekey` (a late event revealed an
-- earlier node, so the profile's earliest node, hence its id, changed).
{{ config(materialized='idstitch_incremental', meta={'idstitch_keep_history': true}) }}
-- published only once resolution is complete: a run that dies earlier leaves the marts alone
-- depends_on: {{ ref('int_idstitch__touched_profiles') }}
{%- set history = idstitch_state_relation('rudder_id_lineage') %}

with

previous as (
    select * from {{ ref('int_idstitch__previous_mappings') }}
),

current_ids as (
    select * from {{ ref('int_idstitch__node_profiles') }}
),

moves as (
    select
        previous.rudder_id as old_rudder_id,
        current_ids.rudder_id,
        case when current_ids.is_shared and not previous.is_shared then 1 else 0 end as turned_shared_flag
    from previous
    inner join current_ids
        on previous.id_type = current_ids.id_type and previous.id_value = current_ids.id_value
),

old_groups as (
    select
        old_rudder_id,
        count(distinct rudder_id) as id_count,
        max(case when rudder_id = old_rudder_id then 1 else 0 end) as kept_flag,
        max(turned_shared_flag) as turned_shared_flag
    from moves
    group by old_rudder_id
),

new_groups as (
    select
        rudder_id,
        count(distinct old_rudder_id) as old_id_count
    from moves
    group by rudder_id
),

existed as (
    select distinct rudder_id from previous
),

changes as (
    select
        moves.old_rudder_id,
        moves.rudder_id,
        count(*) as node_count
    from moves
    where moves.old_rudder_id != moves.rudder_id
    group by moves.old_rudder_id, moves.rudder_id
),

final as (
    select
        changes.old_rudder_id,
        changes.rudder_id,
        {{ dbt.current_timestamp() }} as merged_at,
        case
            when old_groups.id_count > 1 or old_groups.kept_flag = 1 or old_groups.turned_shared_flag = 1 then 'split'
            when existed.rudder_id is not null or new_groups.old_id_count > 1 then 'merge'
            else 'rekey'
        end as reason,
        changes.node_count,
        {{ idstitch_literal(idstitch_batch_id()) }} as run_id
    from changes
    inner join old_groups
        on changes.old_rudder_id = old_groups.old_rudder_id
    inner join new_groups
        on changes.rudder_id = new_groups.rudder_id
    left join existed
        on changes.rudder_id = existed.rudder_id
    {%- if history is not none %}
    -- a run that died after writing its lineage left rows under its run id: not again
    left join {{ history }} as written
        on
            changes.old_rudder_id = written.old_rudder_id
            and changes.rudder_id = written.rudder_id
            and {{ idstitch_uncommitted('written', 'run_id') }}
    where written.old_rudder_id is null
    {%- endif %}
)

select * from final
