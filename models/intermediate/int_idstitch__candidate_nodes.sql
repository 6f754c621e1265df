-- Every (id_type, id_value) that this run touches (that an event it resolves offers, as
-- identifier or alias, or offered before), with a whole-number key for the resolution loop, in
-- (priority, value) order. Which of them become nodes is decided there. `is_checked_value`: an
-- event with a new copy carries (or carried) it (int_idstitch__touched_nodes).

with

candidates as (
    select * from {{ ref('int_idstitch__touched_nodes') }}
),

final as (
    select
        row_number() over (order by priority, id_value, id_type) as node_key,
        id_type,
        id_value,
        priority,
        is_checked_value
    from candidates
)

select * from final
