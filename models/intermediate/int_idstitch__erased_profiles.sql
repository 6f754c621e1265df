-- The values a profile-scope erasure forgets (docs/semantics.md §3c), as digests of their md5
-- ids (idstitch_erasure_digest): for each request, its own value and every node of the
-- profile that holds it in the result
-- without profile-scope erasures (is_erased), and of every value of that profile's partition
-- (is_watched: a later row carrying one of them may change that profile, and so makes a full
-- run). The idstitch_erased_profiles materialization computes that result (R1) from the SQL
-- below, which gives each value of every accepted event as resolution takes it; it runs only
-- in a full run with requests of scope profile, and the table outlives the run (no values, no
-- md5 ids: only their digests).
{{ config(materialized='idstitch_erased_profiles') }}
-- depends_on: {{ ref('stg_idstitch__erasures') }}
-- depends_on: {{ ref('stg_idstitch__identifiers') }}

with

observations as (
    select * from {{ ref('int_idstitch__checked_observations') }}
),

shared_rules as (
    {{ idstitch_shared_sql('observations') | indent(4) }}
),

shared as (
    select distinct
        id_type,
        id_value
    from shared_rules
),

candidates as (
    select
        id_type,
        id_value,
        priority,
        row_number() over (order by priority, id_value, id_type) as node_key
    from (
        select distinct
            id_type,
            id_value,
            priority
        from observations
    ) as distinct_values
),

final as (
    select
        dense_rank() over (
            order by observations.occurred_at, observations.source, observations.event_id
        ) as event_rank,
        observations.strategy,
        case when observations.is_alias then 'alias' else 'id' end as role,
        observations.id_position as item_order,
        candidates.node_key,
        observations.id_type,
        observations.id_value,
        observations.occurred_at,
        shared.id_value is not null as is_shared
    from observations
    inner join candidates
        on observations.id_type = candidates.id_type and observations.id_value = candidates.id_value
    left join shared
        on observations.id_type = shared.id_type and observations.id_value = shared.id_value
)

select * from final
