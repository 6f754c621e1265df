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


{#- whether any erasure request is in force this run (either scope) -#}
{% macro idstitch_erasing() %}
    {{- return(idstitch_erasure_requests()['rows'] | length > 0) -}}
{% endmacro %}


{#-
    The statements that take the values of erased profiles out of the tables that outlive a run
    and were written before those values were known (docs/semantics.md §3c): staging keeps the
    rows, as `erased`, without their values; the traits of the events rejected `erased` and
    their checked values go. Run by idstitch_batches, in the publishing transaction, in a full
    run with requests of scope profile (the only run that finds such values: any other run that
    could is made full, idstitch_profile_erasure_hit).
-#}
{% macro idstitch_scrub_erased_sql() %}
    {%- if not (idstitch_profile_erasing() and idstitch_full_run()) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set events = idstitch_state_relation('int_idstitch__events') -%}
    {%- set of_erased_event = 'exists (select 1 from ' ~ events ~ " as erased_events where erased_events.reject_reason = 'erased'"
        ~ ' and erased_events.source = target_rows.source and erased_events.event_id = target_rows.event_id)' -%}
    {%- set statements = [
        'update ' ~ idstitch_state_relation('stg_idstitch__identifiers') ~ " set raw_value = null, id_value = null, reject_reason = 'erased'"
        ~ ' where id_value is not null and ' ~ idstitch_is_erased_sql(idstitch_md5("id_type || ':' || id_value"), 'profile', state=true),
    ] -%}
    {%- for name in ['stg_idstitch__traits', 'int_idstitch__checked_observations'] -%}
        {%- set relation = idstitch_state_relation(name) -%}
        {%- if relation is not none -%}
            {%- do statements.append('delete from ' ~ relation ~ ' as target_rows where ' ~ of_erased_event) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}
