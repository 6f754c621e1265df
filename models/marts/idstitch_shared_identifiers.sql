-- One row per shared value and rule (docs/semantics.md §3a): the value, the type it was seen with, and
-- with how many distinct values of that type. Each is a profile of its own and never links.
{{ config(materialized='idstitch_incremental', meta={'idstitch_delete': 'touched_nodes'}) }}
-- published only once resolution is complete: a run that dies earlier leaves the marts alone
-- depends_on: {{ ref('int_idstitch__touched_profiles') }}

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
