-- The rows this run publishes to idstitch_limit_violations (see that model): every row in a full run, the
-- rows to insert in an incremental one. idstitch_batches publishes them with every other
-- table's in one transaction.
{{ config(materialized='idstitch_table') }}
{{ idstitch_skips_sql('violation') }}
