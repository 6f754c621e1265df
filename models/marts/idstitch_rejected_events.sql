-- One row per rejected event copy, with the reason it was rejected: by the checks on the
-- event itself, or by its source's strategy (strict).
-- Written by idstitch_batches, which publishes a run's changes to every mart and to the
-- state in one transaction; the rows are those of int_idstitch__next_idstitch_rejected_events.
{{ config(materialized='idstitch_published', meta={'idstitch_delete': 'rejected_events'}) }}
-- depends_on: {{ ref('idstitch_batches') }}

select * from {{ ref('int_idstitch__next_idstitch_rejected_events') }}
