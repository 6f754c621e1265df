-- One row per change of id of a group of nodes: the nodes that had old_rudder_id before this
-- run and have rudder_id after it. Kept across runs (a full rebuild appends too), so that
-- downstream tables keyed by rudder_id can remap: follow old_rudder_id -> rudder_id until the
-- id is current. reason: `merge` (the group joined a profile that already had an id, or
-- several profiles joined), `split` (the profile the group belonged to broke up: a value turned
-- shared, or a late event changed which unions apply), `rekey` (a late event revealed an
-- earlier node, so the profile's earliest node, hence its id, changed).
-- Written by idstitch_batches, which publishes a run's changes to every mart and to the
-- state in one transaction; the rows are those of int_idstitch__next_rudder_id_lineage.
-- An id that is the md5 of a forgotten value leaves the table (docs/semantics.md §3c).
{{ config(materialized='idstitch_published', meta={'idstitch_keep_history': true, 'idstitch_erase_columns': ['old_rudder_id', 'rudder_id']}) }}
-- depends_on: {{ ref('idstitch_batches') }}

select * from {{ ref('int_idstitch__next_rudder_id_lineage') }}
