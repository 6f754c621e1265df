-- Shared identifiers (docs/semantics.md §3a), decided order-free before resolution: a value of type T
-- with `shared_after: {U: n}` is shared when the accepted events that carry it carry, between
-- them, more than n distinct values of type U (identifiers and aliases alike). Decided for the
-- values this run touches, over all accepted events.

with

global_observations as (
    {{ idstitch_global_observations_sql() | indent(4) }}
),

touched as (
    select * from {{ ref('int_idstitch__touched_nodes') }}
),

final as (
    {{ idstitch_shared_sql('global_observations', 'touched') | indent(4) }}
)

select * from final
