{#-
    Rows deleted upstream (docs/semantics.md §3c, docs/incremental.md "Rows deleted upstream").

    A copy read by an earlier run is gone when no raw row of its source holds its key (source,
    event_id, occurred_at) any more. Comparing every copy's key with every raw row's key reads the
    whole history, so an incremental run does it only where a count cannot vouch for the rows:

    - A source without loaded_at is read whole by every run anyway: its keys are compared.
    - A source read by load time keeps, in int_idstitch__raw_row_counts, the watermark after the
      last run (the latest loaded_at of its copies) and how many raw rows were loaded before it.
      Loads only append rows with later load times, so if that count is unchanged and every copy
      at or after the watermark still has its key among the raw rows loaded at or after it, no
      row read earlier is gone. Neither reads the history: the rows before the watermark are the
      table's count(*), which the warehouse answers from its metadata, less the rows loaded
      since, which it finds by the load time's min/max, as it does the newest copies and rows.
      Any other answer (a count that differs, a copy at the watermark without its row, no count
      kept for this watermark) makes the run compare that source's keys in full.

    A source declared `append_only: true` is not compared.
-#}


{#- the compared sources that exist, as (source config, relation): every source but the
    append-only ones (none while dbt parses, or compiles without asking the warehouse) -#}
{% macro idstitch_compared_sources() %}
    {%- if not execute or not flags.INTROSPECT -%}
        {{ return([]) }}
    {%- endif -%}
    {{ return(idstitch_existing_sources(idstitch_config()['event_sources'], skip_append_only=true)) }}
{% endmacro %}


{#- the sources read by load time that exist, append-only ones included, as (source config,
    relation) (none while dbt parses, or compiles without asking the warehouse) -#}
{% macro idstitch_loaded_sources() %}
    {%- if not execute or not flags.INTROSPECT -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set found = [] -%}
    {%- for s, relation in idstitch_existing_sources(idstitch_config()['event_sources']) if s['loaded_at'] is not none -%}
        {%- do found.append((s, relation)) -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}


{#- the compared sources read by load time, as (source config, relation): those whose rows
    before the watermark are counted instead of compared on every run -#}
{% macro idstitch_compared_loaded_sources() %}
    {%- set found = [] -%}
    {%- for s, relation in idstitch_compared_sources() if s['loaded_at'] is not none -%}
        {%- do found.append((s, relation)) -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}


{#- a raw row's load time, as a timestamp -#}
{% macro idstitch_raw_loaded_at(source_config) %}
    {{ return(idstitch_try_timestamp(idstitch_column(source_config['loaded_at']))) }}
{% endmacro %}


{#-
    The copies in `copies` (int_idstitch__event_copies) whose key no raw row of their source holds,
    counted per source, as a query (source, copies) with a row for each source that lost rows.
    `compared`: the sources, as (source config, relation). `since`: per source name, a SQL time;
    for a source named there, only the copies and raw rows loaded at or after it, or without a
    load time, are compared.
-#}
{% macro idstitch_gone_copies_sql(compared, copies, since={}) %}
    {%- set keys = [] -%}
    {%- set scopes = [] -%}
    {%- for s, relation in compared -%}
        {%- set name = idstitch_literal(s['name']) -%}
        {%- set raw_filter = '' -%}
        {%- set scope = 'copies.source = ' ~ name -%}
        {%- if s['name'] in since -%}
            {%- set raw_filter = ' where ' ~ idstitch_raw_since(s, since[s['name']]) -%}
            {%- set scope = '(' ~ scope ~ ' and (copies.loaded_at is null or copies.loaded_at >= ' ~ since[s['name']] ~ '))' -%}
        {%- endif -%}
        {%- do keys.append('select ' ~ name ~ ' as source, nullif('
            ~ idstitch_trim(idstitch_to_string(idstitch_column(s['event_id']))) ~ ", '') as event_id, "
            ~ idstitch_try_timestamp(idstitch_column(s['occurred_at'])) ~ ' as occurred_at from ' ~ relation ~ raw_filter) -%}
        {%- do scopes.append(scope) -%}
    {%- endfor -%}
    {{ return('select copies.source, count(*) as copies from ' ~ copies ~ ' as copies left join (select distinct source, event_id, occurred_at from ('
        ~ keys | join(' union all ') ~ ') as raw_keys) as present on copies.source = present.source'
        ~ ' and copies.event_id is not distinct from present.event_id'
        ~ ' and copies.occurred_at is not distinct from present.occurred_at'
        ~ ' where present.source is null and (' ~ scopes | join(' or ') ~ ')'
        ~ ' group by copies.source') }}
{% endmacro %}


{#- a source's raw rows loaded at or after `since` (a SQL time), or without a load time: the
    rows an incremental run reads -#}
{% macro idstitch_raw_since(source_config, since) %}
    {%- set loaded_at = idstitch_raw_loaded_at(source_config) -%}
    {{ return(loaded_at ~ ' is null or ' ~ loaded_at ~ ' >= ' ~ since) }}
{% endmacro %}


{#-
    The parts of the run's opening query (idstitch_run_start_answers) that look for rows deleted
    upstream, given the kept copies: 'gone' (source, copies) for the sources compared in full;
    'total' (source, raw rows) for each source read by load time, a count(*) that the warehouse
    answers from its metadata; and 'counted' (source, watermark, rows before it: the last run's
    int_idstitch__raw_row_counts, `counted`, when it exists).
-#}
{% macro idstitch_deleted_rows_parts(copies, counted) %}
    {%- set parts = [] -%}
    {%- set in_full = [] -%}
    {%- for s, relation in idstitch_compared_sources() -%}
        {%- if s['loaded_at'] is none -%}
            {%- do in_full.append((s, relation)) -%}
        {%- else -%}
            {%- do parts.append(idstitch_part_sql('total', [idstitch_literal(s['name']), 'count(*)'], relation | string)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if in_full | length > 0 -%}
        {%- do parts.append(idstitch_part_sql('gone', ['source', 'copies'],
            '(' ~ idstitch_gone_copies_sql(in_full, copies) ~ ') as gone')) -%}
    {%- endif -%}
    {%- if counted is not none -%}
        {%- do parts.append(idstitch_part_sql('counted', ['counted.source', 'counted.watermark', 'counted.rows_below'],
            counted ~ ' as counted')) -%}
    {%- endif -%}
    {{ return(parts) }}
{% endmacro %}


{#-
    The sources that lost rows, as [[source, copies gone], ...], from the opening query's answers
    `out` (idstitch_deleted_rows_parts). For the sources read by load time, one more query counts
    the raw rows at or after each watermark and compares the copies at or after it with those
    rows, the watermark written as a literal: the warehouse skips older rows by the load time's
    min/max (a bound read by a subquery is applied after every row is read). The rows before the
    watermark are the total less those. A source whose count differs from the one kept, or whose
    newest copies lack a row, is compared in full, in a third query. Keeps each source's count of
    raw rows before its watermark for this run's int_idstitch__raw_row_counts ('raw_rows_before'
    in the run cache), which counts them again before it records a new count.
-#}
{% macro idstitch_deleted_rows(out, copies) %}
    {%- set counted = {} -%}
    {%- for row in out['counted'] -%}
        {%- do counted.update({row[0]: row}) -%}
    {%- endfor -%}
    {%- set totals = {} -%}
    {%- for row in out['total'] -%}
        {%- do totals.update({row[0]: row[1] | int}) -%}
    {%- endfor -%}
    {%- set literals = idstitch_literal_load_bounds(out['watermark'], idstitch_no_watermark()) -%}
    {%- set loaded = idstitch_compared_loaded_sources() -%}
    {%- set newest = [] -%}
    {%- set parts = [] -%}
    {%- for s, relation in loaded -%}
        {%- do parts.append(idstitch_part_sql('since', [idstitch_literal(s['name']), 'count(*)'],
            relation ~ ' where ' ~ idstitch_raw_since(s, literals[s['name']]))) -%}
        {#- the watermarks are the kept counts' own (idstitch_run_start_answers), so a source with a
            kept count and watermark has its count for this watermark -#}
        {%- set last = counted.get(s['name']) -%}
        {%- if last is not none and last[1] is not none -%}
            {%- do newest.append((s, relation)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if newest | length > 0 -%}
        {%- do parts.append(idstitch_part_sql('gone', ['source', 'copies'],
            '(' ~ idstitch_gone_copies_sql(newest, copies, since=literals) ~ ') as gone')) -%}
    {%- endif -%}
    {%- set answers = idstitch_part_rows(parts, {'since': [], 'gone': []}) -%}
    {%- set before = {} -%}
    {%- for row in answers['since'] -%}
        {%- do before.update({row[0]: totals[row[0]] - (row[1] | int)}) -%}
    {%- endfor -%}
    {%- do idstitch_run_cache().update({'raw_rows_before': before}) -%}
    {%- set lacking = [] -%}
    {%- for row in answers['gone'] -%}
        {%- do lacking.append(row[0]) -%}
    {%- endfor -%}
    {%- set compare = [] -%}
    {%- for s, relation in loaded -%}
        {%- set last = counted.get(s['name']) -%}
        {%- if (s, relation) not in newest or s['name'] in lacking or last[2] is none or (last[2] | int) != before[s['name']] -%}
            {%- do compare.append((s, relation)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set gone = [] -%}
    {%- for row in out['gone'] -%}
        {%- do gone.append([row[0], row[1] | int]) -%}
    {%- endfor -%}
    {%- if compare | length > 0 -%}
        {%- do idstitch_run_cache().update({'raw_row_counts_stale': true}) -%}
        {%- for row in run_query(idstitch_gone_copies_sql(compare, copies)).rows -%}
            {%- do gone.append([row[0], row[1] | int]) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(gone | sort) }}
{% endmacro %}


{#-
    The rows of int_idstitch__raw_row_counts, one per source read by load time: the watermark
    after this run (the latest loaded_at of its copies: of the copies this run is taking into
    account, or the previous watermark if none has one; in a full run, of every copy) and, for a
    compared source, the raw rows loaded before it, or a null count when this run cannot vouch
    for it. The rows before the new watermark are the rows before the previous one (the total
    less the rows since, so that only the newest rows are read) and the rows between the two.
    It vouches when the rows before the previous watermark are as many as when the run started
    (none deleted since the run's own check) and every copy at or after the previous watermark
    still has its raw row (none of the rows this run read, or read again at the watermark,
    deleted since). In a full run the previous watermark is before any load time: every row and
    every copy is compared.
-#}
{% macro idstitch_raw_row_counts_sql(copies, full) %}
    {%- set cache = idstitch_run_cache() -%}
    {%- set previous = {} if full else cache.get('copies_watermarks', {}) -%}
    {%- set before = {} if full else cache.get('raw_rows_before', {}) -%}
    {%- set no_watermark = 'cast(' ~ idstitch_literal(idstitch_no_watermark()) ~ ' as ' ~ dbt.type_timestamp() ~ ')' -%}
    {%- set bigint = dbt.type_bigint() -%}
    {%- set loaded = idstitch_loaded_sources() -%}
    {%- if loaded | length == 0 -%}
        {{ return('select cast(null as ' ~ dbt.type_string() ~ ') as source, cast(null as ' ~ dbt.type_timestamp()
            ~ ') as watermark, cast(null as ' ~ bigint ~ ') as rows_below where 1 = 0') }}
    {%- endif -%}
    {%- set since = {} -%}
    {%- for s, relation in loaded -%}
        {%- do since.update({s['name']: previous.get(s['name'], no_watermark)}) -%}
    {%- endfor -%}
    {#- what the run can vouch for: the compared sources whose rows before the previous watermark
        it counted when it started (all of them, at 0, in a full run) -#}
    {%- set vouched = [] -%}
    {%- for s, relation in idstitch_compared_loaded_sources() if full or before.get(s['name']) is not none -%}
        {%- do vouched.append((s, relation)) -%}
    {%- endfor -%}
    {%- set counted = [] -%}
    {%- for s, relation in loaded -%}
        {%- set name = idstitch_literal(s['name']) -%}
        {#- a full run takes every copy; an incremental run this run's, or keeps the previous watermark -#}
        {%- set latest = 'max(copies.loaded_at)' if full else 'coalesce(max(copies.loaded_at), ' ~ since[s['name']] ~ ')' -%}
        {%- set watermark = '(select ' ~ latest ~ ' as loaded_at from ' ~ copies ~ ' as copies where copies.source = '
            ~ name ~ ('' if full else ' and ' ~ idstitch_uncommitted('copies')) ~ ')' -%}
        {%- set expected = '0' if full else (before.get(s['name']) | string if before.get(s['name']) is not none else 'null') -%}
        {%- do counted.append('select ' ~ name ~ ' as source, watermark.loaded_at as watermark, cast(' ~ expected ~ ' as '
            ~ bigint ~ ') as expected, counts.total, counts.since_previous, counts.before_new from ' ~ watermark
            ~ ' as watermark cross join (select (select count(*) from ' ~ relation ~ ') as total, count(*) as since_previous,'
            ~ ' count(case when ' ~ idstitch_raw_loaded_at(s) ~ ' < watermark.loaded_at then 1 end) as before_new from '
            ~ relation ~ ' cross join ' ~ watermark ~ ' as watermark where ' ~ idstitch_raw_since(s, since[s['name']])
            ~ ') as counts') -%}
    {%- endfor %}
with

counted as (
    {{ counted | join('\n    union all\n    ') }}
),

-- the compared sources' copies at or after the previous watermark whose raw row is gone (one
-- pass over the newest copies for all sources)
gone as (
    {%- if vouched | length > 0 %}
    {{ idstitch_gone_copies_sql(vouched, copies, since=since) }}
    {%- else %}
    select cast(null as {{ dbt.type_string() }}) as source, cast(null as {{ bigint }}) as copies where 1 = 0
    {%- endif %}
)

select
    counted.source,
    counted.watermark,
    case
        when counted.total - counted.since_previous = counted.expected and gone.source is null
            then counted.total - counted.since_previous + counted.before_new
    end as rows_below
from counted
left join gone
    on counted.source = gone.source
{%- endmacro %}
