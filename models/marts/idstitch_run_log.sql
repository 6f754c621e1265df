-- One row per iteration of every convergence loop, kept across runs (run_id = dbt invocation).
-- Each loop model adds a row `<step>:requests` (iteration 0): the requests it sent.
{{ config(materialized='idstitch_incremental', meta={'idstitch_keep_history': true}) }}
-- depends_on: {{ ref('int_idstitch__components') }}
-- depends_on: {{ ref('int_idstitch__decisions') }}

{%- set components = ref('int_idstitch__components') %}
{%- set decisions = ref('int_idstitch__decisions') %}

with

component_rounds as (
    select * from {{ decisions.incorporate(path={'identifier': decisions.identifier ~ '__log'}) }}
    union all
    select * from {{ components.incorporate(path={'identifier': components.identifier ~ '__log'}) }}
),

final as (
    select
        run_id,
        step,
        iteration,
        rows_changed,
        edges_remaining,
        nodes_active,
        started_at,
        seconds
    from component_rounds
)

select * from final
