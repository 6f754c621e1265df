-- What the next run checks for raw rows deleted upstream (docs/incremental.md, "Rows deleted
-- upstream"): for each source read by its load time, the watermark after this run (the latest
-- loaded_at of its copies) and how many raw rows were loaded before it. The next run counts
-- those rows again without reading them (the table's count less the newest rows) and, while the
-- count holds, compares only the newest copies with their raw rows, not every copy ever read.
-- The count is null when this run cannot vouch for it (a row it checked at its start, or one it
-- read, is gone): the next run then compares that source in full.
{{ config(materialized='idstitch_table') }}
{%- set copies = ref('int_idstitch__event_copies') %}

{{ idstitch_raw_row_counts_sql(copies, idstitch_full_run()) }}
