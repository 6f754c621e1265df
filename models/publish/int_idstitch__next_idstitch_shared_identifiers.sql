-- The rows this run publishes to idstitch_shared_identifiers (see that model): every row in a full run, the
-- rows to insert in an incremental one. idstitch_batches publishes them with every other
-- table's in one transaction.
{{ config(materialized='idstitch_table') }}

with

shared as (
    select * from {{ ref('int_idstitch__shared_identifiers') }}
),

final as (
    select
        id_type,
        id_value,
        linked_type,
        distinct_linked
    from shared
)

select * from final
