{#-
    The staged identifier rows (stg_idstitch__identifiers) that a model joining them to the
    copies this run checks can need, as a query with the staging table's columns. `copies` is a
    relation or CTE of checked copies with source, event_id, occurred_at, fingerprint and
    batch_id (int_idstitch__event_copies' batch: the run that first read the copy).

    A copy's identifier rows carry the batch that brought the copy, and every copy no finished
    run has taken into account is checked. So in an incremental run the rows needed are
    - the rows of the pending batches, found by their batch: the newest rows of a table that
      only grows, which a warehouse reads without the blocks of older batches (their min/max
      batch_id excludes them);
    - the rows of the older copies among `copies` (an event that receives a new copy is checked
      with all its copies): joined by copy, and usually none, so the join reads nothing. (A
      copy without an event id is checked only by the run that reads it, and it is rejected
      before its identifiers count.)
    The two parts are disjoint. The caller still joins the rows to its copies: the pending rows
    include copies it may not want. A full run needs every row.

    Before, each model that joined the identifiers to the checked copies read the whole table;
    see docs/benchmark.md, "The checked copies' identifiers by batch".
-#}
{% macro idstitch_checked_identifiers_sql(copies) %}
    {{- return(adapter.dispatch('idstitch_checked_identifiers_sql', 'idstitch')(copies)) -}}
{% endmacro %}

{% macro default__idstitch_checked_identifiers_sql(copies) %}
    {%- set identifiers = ref('stg_idstitch__identifiers') -%}
    {%- if idstitch_full_run() %}
select * from {{ identifiers }}
    {%- else %}
select pending.*
from {{ identifiers }} as pending
where {{ idstitch_uncommitted('pending') }}
union all
select older.*
from {{ identifiers }} as older
inner join {{ copies }} as older_copies
    on
        older.source = older_copies.source
        and older.event_id = older_copies.event_id
        and older.occurred_at = older_copies.occurred_at
        and older.fingerprint = older_copies.fingerprint
where older_copies.event_id is not null and not ({{ idstitch_uncommitted('older_copies') }})
    {%- endif %}
{%- endmacro %}

{#- BigQuery bills the columns a query reads, whatever its filters skip (the table is not
    clustered by batch), and would bill each part: one plain read is cheaper there -#}
{% macro bigquery__idstitch_checked_identifiers_sql(copies) %}
select * from {{ ref('stg_idstitch__identifiers') }}
{%- endmacro %}
