-- One row per shared value and rule (docs/semantics.md §3a): the value, the type it was seen with, and
-- with how many distinct values of that type. Each is a profile of its own and never links.
-- Written by idstitch_batches, which publishes a run's changes to every mart and to the
-- state in one transaction; the rows are those of int_idstitch__next_idstitch_shared_identifiers.
{{ config(materialized='idstitch_published', meta={'idstitch_delete': 'touched_nodes'}) }}
-- depends_on: {{ ref('idstitch_batches') }}

select * from {{ ref('int_idstitch__next_idstitch_shared_identifiers') }}
