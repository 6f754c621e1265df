-- One row per identifier a first_alias event, or alias column, could not add to the event's
-- profile: owned_by_other_profile, limit_exceeded (with the type) or never_merge.
{{ config(materialized='idstitch_incremental', meta={'idstitch_delete': 'working_events'}) }}
-- published only once resolution is complete: a run that dies earlier leaves the marts alone
-- depends_on: {{ ref('int_idstitch__touched_profiles') }}
{{ idstitch_skips_sql('skipped_alias') }}
