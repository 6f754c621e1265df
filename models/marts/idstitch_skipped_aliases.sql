-- One row per identifier a first_alias event, or alias column, could not add to the event's
-- profile: owned_by_other_profile, limit_exceeded (with the type) or never_merge.
-- Written by idstitch_batches, which publishes a run's changes to every mart and to the
-- state in one transaction; the rows are those of int_idstitch__next_idstitch_skipped_aliases.
{{ config(materialized='idstitch_published', meta={'idstitch_delete': 'working_events'}) }}
-- depends_on: {{ ref('idstitch_batches') }}

select * from {{ ref('int_idstitch__next_idstitch_skipped_aliases') }}
