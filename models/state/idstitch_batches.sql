-- One row per batch of raw copies a finished run took into account: the run that finished it,
-- when, under which rules, whether it rebuilt everything, how many copies the batch brought.
-- The last model of a run, and the one that publishes it: in one transaction, it applies the
-- rows of every int_idstitch__next_* model to its mart (and to the state) and appends these
-- rows (materialization idstitch_publish). A batch without a row here is taken up again by the
-- next run. The rules hash of the last finished run decides whether the next run must rebuild
-- everything.
{{ config(materialized='idstitch_publish', meta={'idstitch_keep_history': true}) }}
-- depends_on: {{ ref('int_idstitch__next_idstitch_limit_violations') }}
-- depends_on: {{ ref('int_idstitch__next_idstitch_rejected_events') }}
-- depends_on: {{ ref('int_idstitch__next_idstitch_rejected_identifiers') }}
-- depends_on: {{ ref('int_idstitch__next_idstitch_run_log') }}
-- depends_on: {{ ref('int_idstitch__next_idstitch_shared_identifiers') }}
-- depends_on: {{ ref('int_idstitch__next_idstitch_skipped_aliases') }}
-- depends_on: {{ ref('int_idstitch__next_observation_index') }}
-- depends_on: {{ ref('int_idstitch__next_rudder_id_lineage') }}
-- depends_on: {{ ref('int_idstitch__next_rudder_identified_events') }}
-- depends_on: {{ ref('int_idstitch__next_rudder_identity_mappings') }}
-- depends_on: {{ ref('int_idstitch__next_rudder_identity_merge_rules') }}
-- depends_on: {{ ref('int_idstitch__next_rudder_profiles') }}
{%- set history = idstitch_state_relation('idstitch_batches') %}
{%- set copies = ref('int_idstitch__event_copies') %}

with

pending as (
    select
        copies.batch_id,
        count(*) as copy_count
    from {{ copies }} as copies
    where {{ idstitch_uncommitted('copies') }}
    group by copies.batch_id
),

this_run as (
    select
        {{ idstitch_literal(idstitch_batch_id()) }} as batch_id,
        0 as copy_count
),

batches as (
    select
        this_run.batch_id,
        coalesce(pending.copy_count, 0) as copy_count
    from this_run
    left join pending
        on this_run.batch_id = pending.batch_id
    union all
    select
        pending.batch_id,
        pending.copy_count
    from pending
    where pending.batch_id != {{ idstitch_literal(idstitch_batch_id()) }}
),

final as (
    select
        {%- if history is none %}
        1 as run_number,
        {%- else %}
        (select max(previous.run_number) from {{ history }} as previous) + 1 as run_number,
        {%- endif %}
        {{ idstitch_literal(idstitch_batch_id()) }} as run_id,
        batches.batch_id,
        batches.copy_count,
        {%- if idstitch_nothing_new() %}
        0 as events_resolved,
        {%- else %}
        (select count(*) from {{ ref('int_idstitch__working_keys') }}) as events_resolved,
        {%- endif %}
        {{ idstitch_full_run() }} as full_refresh,
        {{ idstitch_literal(idstitch_rules_hash()) }} as rules_hash,
        {{ dbt.current_timestamp() }} as finished_at
    from batches
)

select * from final
