-- The rows this run publishes to idstitch_run_log (see that model): every row in a full run, the
-- rows to insert in an incremental one. idstitch_batches publishes them with every other
-- table's in one transaction.
{{ config(materialized='idstitch_table') }}
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
