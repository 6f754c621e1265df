-- One row per identity node: which profile (rudder_id) each identifier belongs to.
-- Published after every other mart: the mapping before this run is what lineage and profiles
-- compare to, and a run that dies before this point is repeated by the next run.
{{ config(materialized='idstitch_incremental', meta={'idstitch_delete': 'touched_nodes'}) }}
-- depends_on: {{ ref('rudder_id_lineage') }}
-- depends_on: {{ ref('rudder_profiles') }}
-- depends_on: {{ ref('rudder_identified_events') }}
-- depends_on: {{ ref('rudder_identity_merge_rules') }}
-- depends_on: {{ ref('idstitch_rejected_events') }}
-- depends_on: {{ ref('idstitch_rejected_identifiers') }}
-- depends_on: {{ ref('idstitch_limit_violations') }}
-- depends_on: {{ ref('idstitch_skipped_aliases') }}
-- depends_on: {{ ref('idstitch_shared_identifiers') }}
-- depends_on: {{ ref('idstitch_run_log') }}

with

node_profiles as (
    select * from {{ ref('int_idstitch__node_profiles') }}
),

final as (
    select
        rudder_id,
        id_type,
        id_value,
        is_shared,
        first_seen_at,
        last_seen_at,
        source_count,
        event_count
    from node_profiles
)

select * from final
