-- Every (id_type, id_value) that an accepted event offers, as identifier or alias, with a
-- whole-number key for the resolution loop. Which of them become nodes is decided there.

with

observations as (
    select * from {{ ref('int_idstitch__observations') }}
),

candidates as (
    select distinct
        id_type,
        id_value,
        priority
    from observations
),

final as (
    select
        row_number() over (order by priority, id_value, id_type) as node_key,
        id_type,
        id_value,
        priority
    from candidates
)

select * from final
