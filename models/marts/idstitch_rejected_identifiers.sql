-- One row per identifier value rejected in an event: invalid, too long, blocked or of an
-- unknown type. Identifiers are only checked for events that passed the event-level checks.
-- Values of the never-merge seed are checked too (source never_merge, event_id = pair_id), in
-- full runs (a changed seed makes a full run).
-- Written by idstitch_batches, which publishes a run's changes to every mart and to the
-- state in one transaction; the rows are those of int_idstitch__next_idstitch_rejected_identifiers.
{{ config(materialized='idstitch_published', meta={'idstitch_delete': 'checked_events'}) }}
-- depends_on: {{ ref('idstitch_batches') }}

select * from {{ ref('int_idstitch__next_idstitch_rejected_identifiers') }}
