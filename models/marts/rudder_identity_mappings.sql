-- One row per identity node: which profile (rudder_id) each identifier belongs to.
-- Published after every other mart: the mapping before this run is what lineage and profiles
-- compare to, and a run that dies before this point is repeated by the next run.
-- Written by idstitch_batches, which publishes a run's changes to every mart and to the
-- state in one transaction; the rows are those of int_idstitch__next_rudder_identity_mappings.
{{ config(materialized='idstitch_published', meta={'idstitch_delete': 'touched_nodes'}) }}
-- depends_on: {{ ref('idstitch_batches') }}

select * from {{ ref('int_idstitch__next_rudder_identity_mappings') }}
