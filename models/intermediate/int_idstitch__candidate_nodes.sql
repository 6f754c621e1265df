-- Every (id_type, id_value) that this run touches (that an event it resolves offers, as
-- identifier or alias, or offered before), with a whole-number key for the resolution loop, in
-- (priority, value) order. Which of them become nodes is decided there.

with

candidates as (
    select * from {{ ref('int_idstitch__touched_nodes') }}
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
