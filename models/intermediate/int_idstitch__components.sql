-- Connected components of the applied edges, computed by the idstitch_components
-- materialization (randomized contraction, about log2(n) rounds).
{{ config(materialized='idstitch_components', idstitch_step='connected_components') }}

with

nodes as (
    select * from {{ ref('int_idstitch__nodes') }}
),

edges as (
    select * from {{ ref('int_idstitch__edges') }}
),

pairs as (
    select
        node_key as node_a,
        node_key as node_b
    from nodes
    union all
    select
        node_key_1 as node_a,
        node_key_2 as node_b
    from edges
    where applied
)

select * from pairs
