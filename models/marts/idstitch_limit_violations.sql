-- One row per union a merge (or manual merge) asked for and a rule refused: the event, the
-- identifier left out, the profile it would have joined, and why (limit_exceeded with the
-- type that would overflow, or never_merge).
-- Written by idstitch_batches, which publishes a run's changes to every mart and to the
-- state in one transaction; the rows are those of int_idstitch__next_idstitch_limit_violations.
{{ config(materialized='idstitch_published', meta={'idstitch_delete': 'working_events'}) }}
-- depends_on: {{ ref('idstitch_batches') }}

select * from {{ ref('int_idstitch__next_idstitch_limit_violations') }}
