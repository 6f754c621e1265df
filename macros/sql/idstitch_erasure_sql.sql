{#-
    Whether the md5 id `hash_sql` (the hash of `id_type:value`, which is also the rudder_id of a
    profile whose earliest node the value is) names a value an erasure forgets (docs/semantics.md
    §3c), as a boolean SQL expression: `identifier`, a value a request names
    (stg_idstitch__erasures, either scope); `profile`, a value of an erased profile
    (int_idstitch__erased_profiles); `all`, either. A model that uses it declares the models it
    reads (`-- depends_on:`); with `state`, the tables are found by name instead (the publish).
-#}
{% macro idstitch_is_erased_sql(hash_sql, kind='all', state=false) %}
    {%- set tests = [] -%}
    {%- if kind in ['identifier', 'all'] -%}
        {%- set requests = idstitch_state_relation('stg_idstitch__erasures') if state else ref('stg_idstitch__erasures') -%}
        {%- do tests.append(hash_sql ~ ' in (select requested.id_hash from ' ~ requests ~ ' as requested where requested.id_hash is not null)') -%}
    {%- endif -%}
    {%- if kind in ['profile', 'all'] and idstitch_profile_erasing() -%}
        {%- set profiles = idstitch_state_relation('int_idstitch__erased_profiles') if state else ref('int_idstitch__erased_profiles') -%}
        {%- do tests.append(idstitch_erasure_digest(hash_sql) ~ ' in (select profiled.digest from ' ~ profiles ~ ' as profiled where profiled.is_erased)') -%}
    {%- endif -%}
    {%- if tests | length == 0 -%}
        {{- return('1 = 0') -}}
    {%- endif -%}
    {{- return('(' ~ tests | join(' or ') ~ ')') -}}
{% endmacro %}


{#- the digest int_idstitch__erased_profiles keeps of a value's md5 id `hash_sql`: an md5 of it
    under a prefix of its own, so that the table holds neither the value, nor its md5 id (the
    rudder_id of the profile it may have named), and still recognizes the value -#}
{% macro idstitch_erasure_digest(hash_sql) %}
    {{- return(idstitch_md5("'idstitch-erased:' || " ~ hash_sql)) -}}
{% endmacro %}


{#- whether the events this run checks may carry values of erased profiles: a full run with
    requests of scope profile. An incremental run's cannot: a run whose new rows could is made
    full (idstitch_profile_erasure_hit), so such a run need not look -#}
{% macro idstitch_profile_erasure_applies() %}
    {{- return(idstitch_profile_erasing() and idstitch_full_run()) -}}
{% endmacro %}


{#- whether any erasure request is in force this run (either scope) -#}
{% macro idstitch_erasing() %}
    {{- return(idstitch_erasure_requests()['rows'] | length > 0) -}}
{% endmacro %}


{#-
    The statements that take the values of erased profiles out of the tables that outlive a run
    and were written before those values were known (docs/semantics.md §3c): staging keeps the
    rows, as `erased`, without their values (one metadata query reads its columns); the traits
    of the events rejected `erased` and their checked values go. Run by idstitch_batches, in the
    publishing transaction, in a full run with requests of scope profile (the only run that
    finds such values: any other run that could is made full, idstitch_profile_erasure_hit).
-#}
{% macro idstitch_scrub_erased_sql() %}
    {%- if not idstitch_profile_erasure_applies() -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set events = idstitch_state_relation('int_idstitch__events') -%}
    {#- uncorrelated, as a MERGE on BigQuery wants it; a source name holds no `:` -#}
    {%- set of_erased_event = "target_rows.source || ':' || target_rows.event_id in (select erased_events.source || ':'"
        ~ ' || erased_events.event_id from ' ~ events ~ " as erased_events where erased_events.reject_reason = 'erased')" -%}
    {#- staging keeps each row, without its values: a copy of it goes in, and the row goes -#}
    {%- set staged = idstitch_state_relation('stg_idstitch__identifiers') -%}
    {%- set erased = 'target_rows.id_value is not null and '
        ~ idstitch_is_erased_sql(idstitch_md5("target_rows.id_type || ':' || target_rows.id_value"), 'profile', state=true) -%}
    {%- set names = adapter.get_columns_in_relation(staged) | map(attribute='name') | list -%}
    {%- set values = [] -%}
    {%- for name in names -%}
        {%- if name | lower in ['raw_value', 'id_value'] -%}
            {%- do values.append('cast(null as ' ~ dbt.type_string() ~ ') as ' ~ adapter.quote(name)) -%}
        {%- elif name | lower == 'reject_reason' -%}
            {%- do values.append("'erased' as " ~ adapter.quote(name)) -%}
        {%- else -%}
            {%- do values.append('target_rows.' ~ adapter.quote(name)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set statements = idstitch_replace_rows_sql(staged, erased,
        'select ' ~ values | join(', ') ~ ' from ' ~ staged ~ ' as target_rows where ' ~ erased, names) -%}
    {%- for name in ['stg_idstitch__traits', 'int_idstitch__checked_observations'] -%}
        {%- set relation = idstitch_state_relation(name) -%}
        {%- if relation is not none -%}
            {%- do statements.extend(idstitch_replace_rows_sql(relation, of_erased_event)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}


{#-
    Statements that delete a table's rows that meet `condition` (on alias `target_rows`, with
    uncorrelated subqueries only) and insert the rows of `rows_sql` (none: nothing), whose
    columns are `names` (the table's, in its order). The inserted rows must not meet the
    condition. On BigQuery one MERGE; elsewhere an insert, then a delete.
-#}
{% macro idstitch_replace_rows_sql(relation, condition, rows_sql=none, names=none) %}
    {{- return(adapter.dispatch('idstitch_replace_rows_sql', 'idstitch')(relation, condition, rows_sql, names)) -}}
{% endmacro %}

{% macro default__idstitch_replace_rows_sql(relation, condition, rows_sql, names) %}
    {%- set statements = [] -%}
    {%- if rows_sql is not none -%}
        {%- do statements.append('insert into ' ~ relation ~ ' (' ~ idstitch_quoted_columns(relation, names) | join(', ')
            ~ ') ' ~ rows_sql) -%}
    {%- endif -%}
    {%- do statements.append('delete from ' ~ relation ~ ' as target_rows where ' ~ condition) -%}
    {{- return(statements) -}}
{% endmacro %}

{% macro bigquery__idstitch_replace_rows_sql(relation, condition, rows_sql, names) %}
    {%- set rows = rows_sql if rows_sql is not none else 'select * from ' ~ relation ~ ' where false' -%}
    {%- if names is none -%}
        {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
    {%- endif -%}
    {{- return([idstitch_merge_sql(relation, rows, condition, names)]) -}}
{% endmacro %}
