-- One row per distinct edge of the identity graph, with the evidence behind it and whether
-- the union it asks for was applied.
-- Written by idstitch_batches, which publishes a run's changes to every mart and to the
-- state in one transaction; the rows are those of int_idstitch__next_rudder_identity_merge_rules.
{{ config(materialized='idstitch_published', meta={'idstitch_delete': 'touched_anchors'}) }}
-- depends_on: {{ ref('idstitch_batches') }}

select * from {{ ref('int_idstitch__next_rudder_identity_merge_rules') }}
