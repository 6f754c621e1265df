{#-
    Invariant (the state incremental runs start from agrees with what was published): the
    events of the index are exactly the events that were identified or rejected by their
    source's strategy. A difference means the next incremental run would start from a wrong
    state: run with --full-refresh.
-#}
{% test idstitch_state_matches_marts(model, identified, rejected) %}
with

indexed as (
    select distinct
        source,
        event_id
    from {{ model }}
),

published as (
    select
        source,
        event_id
    from {{ identified }}
    union all
    select
        source,
        event_id
    from {{ rejected }}
    where {{ idstitch_is_strategy_rejection('reason') }}
),

compared as (
    select
        coalesce(indexed.source, published.source) as source,
        coalesce(indexed.event_id, published.event_id) as event_id,
        case when indexed.event_id is null then 'published, not in the index' else 'in the index, not published' end as problem
    from indexed
    full outer join published
        on indexed.source = published.source and indexed.event_id = published.event_id
    where indexed.event_id is null or published.event_id is null
)

select * from compared
{% endtest %}
