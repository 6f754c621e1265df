-- One row per profile: its primary identifier (highest priority, then earliest, then value),
-- its size and time span, and the latest non-null value of each configured trait.
-- Written by idstitch_batches, which publishes a run's changes to every mart and to the
-- state in one transaction; the rows are those of int_idstitch__next_rudder_profiles.
{{ config(materialized='idstitch_published', meta={'idstitch_delete': 'touched_profiles'}) }}
-- depends_on: {{ ref('idstitch_batches') }}

select * from {{ ref('int_idstitch__next_rudder_profiles') }}
