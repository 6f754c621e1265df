-- The state incremental runs start from: the observations of every accepted event (its winning
-- copy), with the partition it belongs to (its component in the unconstrained graph, named by
-- md5 of the component's first node; for an event whose identifiers are all shared, by its
-- first shared value).
-- Written by idstitch_batches, which publishes a run's changes to every mart and to the
-- state in one transaction; the rows are those of int_idstitch__next_observation_index.
{{ config(materialized='idstitch_published', meta={'idstitch_delete': 'working_events'}) }}
-- depends_on: {{ ref('idstitch_batches') }}

select * from {{ ref('int_idstitch__next_observation_index') }}
