-- The rows this run publishes to rudder_id_lineage (see that model): every row in a full run, the
-- rows to insert in an incremental one. idstitch_batches publishes them with every other
-- table's in one transaction. A change whose old or new id is the md5 of a forgotten value is
-- left out (docs/semantics.md §3c).
{{ config(materialized='idstitch_table') }}
{%- set erasing = idstitch_erasing() %}
-- depends_on: {{ ref('stg_idstitch__erasures') }}
-- depends_on: {{ ref('int_idstitch__erased_profiles') }}

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
    {%- if erasing %}
    where
        not {{ idstitch_is_erased_sql('changes.old_rudder_id') }}
        and not {{ idstitch_is_erased_sql('changes.rudder_id') }}
    {%- endif %}
)

select * from final
