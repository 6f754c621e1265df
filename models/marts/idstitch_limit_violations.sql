-- One row per union a merge (or manual merge) asked for and a rule refused: the event, the
-- identifier left out, the profile it would have joined, and why (limit_exceeded with the
-- type that would overflow, or never_merge).
{{ config(materialized='idstitch_incremental', meta={'idstitch_delete': 'working_events'}) }}
-- published only once resolution is complete: a run that dies earlier leaves the marts alone
-- depends_on: {{ ref('int_idstitch__touched_profiles') }}
{{ idstitch_skips_sql('violation') }}
