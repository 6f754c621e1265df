-- One row per accepted event with the profile it belongs to.
-- Written by idstitch_batches, which publishes a run's changes to every mart and to the
-- state in one transaction; the rows are those of int_idstitch__next_rudder_identified_events.
{{ config(materialized='idstitch_published', meta={'idstitch_delete': 'working_events'}) }}
-- depends_on: {{ ref('idstitch_batches') }}

select * from {{ ref('int_idstitch__next_rudder_identified_events') }}
