-- What every event did to every one of its identifiers and aliases, under priorities, limits,
-- strategies, aliases, manual merges and never-merge pairs: the ordered resolution of
-- docs/semantics.md §3, computed set-based by the idstitch_resolution materialization.
{{ config(materialized='idstitch_resolution') }}
-- depends_on: {{ ref('int_idstitch__never_merge_pairs') }}

select * from {{ ref('int_idstitch__event_items') }}
