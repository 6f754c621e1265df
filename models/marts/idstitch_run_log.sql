-- One row per iteration of every convergence loop, kept across runs (run_id = dbt invocation).
-- Each loop model adds a row `<step>:requests` (iteration 0): the requests it sent.
-- Written by idstitch_batches, which publishes a run's changes to every mart and to the
-- state in one transaction; the rows are those of int_idstitch__next_idstitch_run_log.
{{ config(materialized='idstitch_published', meta={'idstitch_keep_history': true}) }}
-- depends_on: {{ ref('idstitch_batches') }}

select * from {{ ref('int_idstitch__next_idstitch_run_log') }}
