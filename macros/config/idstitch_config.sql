{#-
    Reads the one `idstitch` var, validates it and returns it with every default filled in.
    Every model calls this, so a bad configuration fails the run at parse time with a message
    that names the offending key (e.g. `idstitch.sources[1].strategy`).
-#}

{% macro idstitch_config() %}
    {#- SQL macros ask for it many times per model: a run parses it once (idstitch_run_cache) -#}
    {%- set raw = var('idstitch', none) -%}
    {%- if raw is none -%}
        {{ idstitch_config_error('idstitch', 'the var is not set; define `vars: idstitch:` in dbt_project.yml') }}
    {%- endif -%}
    {#- keyed by the var itself: a unit test may override it for its own model -#}
    {%- set cache = idstitch_run_cache() -%}
    {%- set key = 'config:' ~ tojson(raw, sort_keys=true) -%}
    {%- if key not in cache -%}
        {%- do cache.update({key: idstitch_parse_config(raw)}) -%}
    {%- endif -%}
    {{ return(cache[key]) }}
{% endmacro %}


{#-
    A dict that lives as long as this dbt invocation and is shared by all its models, for
    answers that are the same for every model of a run (the parsed config, full or
    incremental). dbt gives Jinja no such place, so it is kept in the `graph` dict dbt shares
    between the models, under the invocation's id (a process may run dbt many times, and the
    vars may differ between runs). While dbt parses, each call gets a fresh dict.
-#}
{% macro idstitch_run_cache() %}
    {%- if not execute -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set key = 'idstitch_run_cache:' ~ invocation_id -%}
    {%- if key not in graph -%}
        {%- do graph.update({key: {}}) -%}
    {%- endif -%}
    {{ return(graph[key]) }}
{% endmacro %}


{% macro idstitch_config_error(key, message) %}
    {{ exceptions.raise_compiler_error('idstitch configuration error at `' ~ key ~ '`: ' ~ message) }}
{% endmacro %}


{% macro idstitch_check_keys(key, value, allowed) %}
    {%- if value is not mapping -%}
        {{ idstitch_config_error(key, 'expected a mapping, got ' ~ value) }}
    {%- endif -%}
    {%- for k in value -%}
        {%- if k not in allowed -%}
            {{ idstitch_config_error(key ~ '.' ~ k, 'unknown key; allowed keys are: ' ~ allowed | join(', ')) }}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}


{% macro idstitch_check_name(key, value) %}
    {%- if value is not string or not modules.re.match('^[a-z][a-z0-9_]*$', value) -%}
        {{ idstitch_config_error(key, 'expected a lowercase name (letters, digits, underscores), got ' ~ value) }}
    {%- endif -%}
{% endmacro %}


{% macro idstitch_check_column(key, value) %}
    {%- if value is not string or value | trim == '' -%}
        {{ idstitch_config_error(key, 'expected a column name, got ' ~ value) }}
    {%- endif -%}
{% endmacro %}


{% macro idstitch_check_positive_int(key, value) %}
    {%- if value is not number or value is string or value != value | int or value < 1 or value is sameas true or value is sameas false -%}
        {{ idstitch_config_error(key, 'expected a whole number of at least 1, got ' ~ value) }}
    {%- endif -%}
{% endmacro %}


{#- `limit`: none, a count (ever), or {count: n, per: ever|day|week|month|year}; returns
    {count, per, days} with days the window's length (none for ever), docs/semantics.md §3b -#}
{% macro idstitch_parse_limit(key, value) %}
    {%- set periods = {'ever': none, 'day': 1, 'week': 7, 'month': 30, 'year': 365} -%}
    {%- if value is none -%}
        {{ return({'count': none, 'per': 'ever', 'days': none}) }}
    {%- endif -%}
    {%- if value is not mapping -%}
        {{ idstitch_check_positive_int(key, value) }}
        {{ return({'count': value | int, 'per': 'ever', 'days': none}) }}
    {%- endif -%}
    {{ idstitch_check_keys(key, value, ['count', 'per']) }}
    {%- if value.get('count') is none -%}
        {{ idstitch_config_error(key ~ '.count', 'missing; a limit over a period is {count: n, per: P}') }}
    {%- endif -%}
    {{ idstitch_check_positive_int(key ~ '.count', value['count']) }}
    {%- set per = value.get('per', 'ever') -%}
    {%- if per not in periods -%}
        {{ idstitch_config_error(key ~ '.per', 'expected one of ever, day, week, month, year; got ' ~ per) }}
    {%- endif -%}
    {{ return({'count': value['count'] | int, 'per': per, 'days': periods[per]}) }}
{% endmacro %}


{% macro idstitch_parse_blocked(key, value) %}
    {#- blocked values come as {exact: [...], patterns: [...]} or, for short, a list of exact values -#}
    {%- set out = {'exact': [], 'patterns': []} -%}
    {%- if value is none -%}
        {{ return(out) }}
    {%- endif -%}
    {%- if value is string or (value is not mapping and value is not iterable) -%}
        {{ idstitch_config_error(key, 'expected a list of values or a mapping with `exact` and `patterns`') }}
    {%- endif -%}
    {%- set spec = value if value is mapping else {'exact': value} -%}
    {{ idstitch_check_keys(key, spec, ['exact', 'patterns']) }}
    {%- for part in ['exact', 'patterns'] -%}
        {%- set items = spec.get(part) or [] -%}
        {%- if items is string or items is mapping or items is not iterable -%}
            {{ idstitch_config_error(key ~ '.' ~ part, 'expected a list') }}
        {%- endif -%}
        {%- for item in items -%}
            {%- set item_key = key ~ '.' ~ part ~ '[' ~ loop.index0 ~ ']' -%}
            {%- if item is mapping or (item is iterable and item is not string) or item is none -%}
                {{ idstitch_config_error(item_key, 'expected a single value') }}
            {%- endif -%}
            {%- if part == 'patterns' -%}
                {{ try_or_compiler_error(
                    'idstitch configuration error at `' ~ item_key ~ '`: not a valid regular expression: ' ~ item,
                    modules.re.compile, item | string) }}
                {%- do out['patterns'].append(item | string) -%}
            {%- else -%}
                {%- do out['exact'].append((item | string | lower)) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(out) }}
{% endmacro %}


{% macro idstitch_parse_config(raw) %}
    {{ idstitch_check_keys('idstitch', raw, ['id_types', 'blocked_values', 'default_phone_country_code', 'max_iterations', 'max_resolution_rounds', 'sources', 'manual_merges', 'never_merge', 'erasures']) }}

    {#- id types: list order is priority, first is highest -#}
    {%- set id_types = raw.get('id_types') -%}
    {%- if id_types is none or id_types is string or id_types is mapping or id_types is not iterable or id_types | length == 0 -%}
        {{ idstitch_config_error('idstitch.id_types', 'expected a non-empty list of identifier types') }}
    {%- endif -%}
    {%- set types = [] -%}
    {%- set types_by_name = {} -%}
    {%- for t in id_types -%}
        {%- set key = 'idstitch.id_types[' ~ loop.index0 ~ ']' -%}
        {{ idstitch_check_keys(key, t, ['name', 'limit', 'normalize', 'blocked_values', 'shared_after']) }}
        {{ idstitch_check_name(key ~ '.name', t.get('name')) }}
        {%- if t['name'] in types_by_name -%}
            {{ idstitch_config_error(key ~ '.name', 'type `' ~ t['name'] ~ '` is listed twice') }}
        {%- endif -%}
        {%- set normalize = t.get('normalize', 'none') -%}
        {%- if normalize not in ['email', 'phone', 'lower', 'none'] -%}
            {{ idstitch_config_error(key ~ '.normalize', 'expected one of email, phone, lower, none; got ' ~ normalize) }}
        {%- endif -%}
        {%- set limit = idstitch_parse_limit(key ~ '.limit', t.get('limit')) -%}
        {%- set parsed = {
            'name': t['name'],
            'priority': loop.index,
            'normalize': normalize,
            'limit': limit['count'],
            'limit_per': limit['per'],
            'limit_days': limit['days'],
            'blocked': idstitch_parse_blocked(key ~ '.blocked_values', t.get('blocked_values')),
            'shared_after': t.get('shared_after') or {},
        } -%}
        {%- do types.append(parsed) -%}
        {%- do types_by_name.update({t['name']: parsed}) -%}
    {%- endfor -%}
    {#- shared_after names other types, so it is checked once every type is known -#}
    {%- for t in types -%}
        {%- set key = 'idstitch.id_types[' ~ loop.index0 ~ '].shared_after' -%}
        {%- if t['shared_after'] is not mapping -%}
            {{ idstitch_config_error(key, 'expected a mapping {other_type: n}') }}
        {%- endif -%}
        {%- for other, n in t['shared_after'].items() -%}
            {%- if other not in types_by_name -%}
                {{ idstitch_config_error(key ~ '.' ~ other, 'unknown identifier type `' ~ other ~ '`') }}
            {%- endif -%}
            {{ idstitch_check_positive_int(key ~ '.' ~ other, n) }}
        {%- endfor -%}
    {%- endfor -%}

    {%- set blocked = idstitch_parse_blocked('idstitch.blocked_values', raw.get('blocked_values')) -%}

    {%- set cc = raw.get('default_phone_country_code', '1') | string -%}
    {%- if not modules.re.match('^[1-9][0-9]{0,2}$', cc) -%}
        {{ idstitch_config_error('idstitch.default_phone_country_code', 'expected 1 to 3 digits not starting with 0, got ' ~ cc) }}
    {%- endif -%}

    {%- set max_iterations = raw.get('max_iterations', 64) -%}
    {{ idstitch_check_positive_int('idstitch.max_iterations', max_iterations) }}
    {%- set max_resolution_rounds = raw.get('max_resolution_rounds', 10000) -%}
    {{ idstitch_check_positive_int('idstitch.max_resolution_rounds', max_resolution_rounds) }}

    {#- sources -#}
    {%- set sources_raw = raw.get('sources') -%}
    {%- if sources_raw is none or sources_raw is string or sources_raw is mapping or sources_raw is not iterable or sources_raw | length == 0 -%}
        {{ idstitch_config_error('idstitch.sources', 'expected a non-empty list of sources') }}
    {%- endif -%}
    {%- set sources = [] -%}
    {%- set source_names = [] -%}
    {%- for s in sources_raw -%}
        {%- set key = 'idstitch.sources[' ~ loop.index0 ~ ']' -%}
        {{ idstitch_check_keys(key, s, ['name', 'source', 'ref', 'event_id', 'occurred_at', 'strategy', 'identifiers', 'aliases', 'pairs', 'traits', 'loaded_at', 'append_only']) }}
        {{ idstitch_check_name(key ~ '.name', s.get('name')) }}
        {%- if s['name'] == 'manual_merges' -%}
            {{ idstitch_config_error(key ~ '.name', '`manual_merges` is reserved for the manual merges') }}
        {%- endif -%}
        {%- if s['name'] in source_names -%}
            {{ idstitch_config_error(key ~ '.name', 'source name `' ~ s['name'] ~ '` is used twice') }}
        {%- endif -%}
        {%- do source_names.append(s['name']) -%}
        {{ idstitch_check_relation(key, s) }}
        {{ idstitch_check_column(key ~ '.event_id', s.get('event_id')) }}
        {{ idstitch_check_column(key ~ '.occurred_at', s.get('occurred_at')) }}
        {%- if s.get('loaded_at') is not none -%}
            {{ idstitch_check_column(key ~ '.loaded_at', s['loaded_at']) }}
        {%- endif -%}
        {%- if s.get('append_only') is not none and s['append_only'] is not sameas true and s['append_only'] is not sameas false -%}
            {{ idstitch_config_error(key ~ '.append_only', 'expected true or false, got ' ~ s['append_only']) }}
        {%- endif -%}
        {%- set strategy = s.get('strategy', 'merge') -%}
        {%- if strategy not in ['merge', 'first_alias', 'first', 'strict'] -%}
            {{ idstitch_config_error(key ~ '.strategy', 'expected one of merge, first_alias, first, strict; got ' ~ strategy) }}
        {%- endif -%}
        {%- set columns = {} -%}
        {%- for part in ['identifiers', 'aliases'] -%}
            {%- set mapping = s.get(part) or {} -%}
            {%- if mapping is not mapping -%}
                {{ idstitch_config_error(key ~ '.' ~ part, 'expected a mapping column -> identifier type') }}
            {%- endif -%}
            {%- set cols = [] -%}
            {%- for col, type_name in mapping.items() -%}
                {{ idstitch_check_column(key ~ '.' ~ part ~ '.' ~ col, col) }}
                {%- if type_name not in types_by_name -%}
                    {{ idstitch_config_error(key ~ '.' ~ part ~ '.' ~ col, 'unknown identifier type `' ~ type_name ~ '`; configured types are: ' ~ types_by_name.keys() | join(', ')) }}
                {%- endif -%}
                {%- do cols.append({'column': col, 'id_type': type_name}) -%}
            {%- endfor -%}
            {%- do columns.update({part: cols}) -%}
        {%- endfor -%}
        {%- set pairs_raw = s.get('pairs') or [] -%}
        {%- if pairs_raw is string or pairs_raw is mapping or pairs_raw is not iterable -%}
            {{ idstitch_config_error(key ~ '.pairs', 'expected a list of {type: column, value: column}') }}
        {%- endif -%}
        {%- set pairs = [] -%}
        {%- for p in pairs_raw -%}
            {%- set pkey = key ~ '.pairs[' ~ loop.index0 ~ ']' -%}
            {{ idstitch_check_keys(pkey, p, ['type', 'value']) }}
            {{ idstitch_check_column(pkey ~ '.type', p.get('type')) }}
            {{ idstitch_check_column(pkey ~ '.value', p.get('value')) }}
            {%- do pairs.append({'type': p['type'], 'value': p['value']}) -%}
        {%- endfor -%}
        {%- if columns['identifiers'] | length == 0 and pairs | length == 0 -%}
            {{ idstitch_config_error(key, 'a source needs at least one of `identifiers` or `pairs`') }}
        {%- endif -%}
        {%- set traits = s.get('traits') or [] -%}
        {%- if traits is string or traits is mapping or traits is not iterable -%}
            {{ idstitch_config_error(key ~ '.traits', 'expected a list of column names') }}
        {%- endif -%}
        {%- for tr in traits -%}
            {{ idstitch_check_column(key ~ '.traits[' ~ loop.index0 ~ ']', tr) }}
        {%- endfor -%}
        {%- do sources.append({
            'name': s['name'],
            'source': s.get('source'),
            'ref': s.get('ref'),
            'event_id': s['event_id'],
            'occurred_at': s['occurred_at'],
            'loaded_at': s.get('loaded_at'),
            'append_only': s.get('append_only', false),
            'strategy': strategy,
            'identifiers': columns['identifiers'],
            'aliases': columns['aliases'],
            'pairs': pairs,
            'traits': traits | list,
        }) -%}
    {%- endfor -%}

    {#- the relations the rules come from: the project's seeds (empty) unless the var names others -#}
    {%- set manual_merges = idstitch_parse_relation('idstitch.manual_merges', raw.get('manual_merges'), 'idstitch_manual_merges') -%}
    {%- set never_merge = idstitch_parse_relation('idstitch.never_merge', raw.get('never_merge'), 'idstitch_never_merge') -%}
    {%- set erasures = idstitch_parse_relation('idstitch.erasures', raw.get('erasures'), 'idstitch_erasures') -%}

    {%- set trait_names = [] -%}
    {%- for s in sources -%}
        {%- for tr in s['traits'] if tr not in trait_names -%}
            {%- do trait_names.append(tr) -%}
        {%- endfor -%}
    {%- endfor -%}

    {%- set config = {
        'id_types': types,
        'types_by_name': types_by_name,
        'blocked': blocked,
        'default_phone_country_code': cc,
        'max_iterations': max_iterations | int,
        'max_resolution_rounds': max_resolution_rounds | int,
        'sources': sources,
        'event_sources': sources + [idstitch_manual_merges_source(manual_merges)],
        'manual_merges': manual_merges,
        'never_merge': never_merge,
        'erasures': erasures,
        'trait_names': trait_names,
    } -%}
    {{ return(config) }}
{% endmacro %}


{#- where a configured relation comes from: exactly one of `source` (source_name.table_name) or `ref` -#}
{% macro idstitch_check_relation(key, value) %}
    {%- if (value.get('source') is none) == (value.get('ref') is none) -%}
        {{ idstitch_config_error(key, 'give exactly one of `source` (source_name.table_name) or `ref` (model name)') }}
    {%- endif -%}
    {%- if value.get('source') is not none and (value['source'] is not string or value['source'].split('.') | length != 2) -%}
        {{ idstitch_config_error(key ~ '.source', 'expected `source_name.table_name`, got ' ~ value['source']) }}
    {%- endif -%}
    {%- if value.get('ref') is not none and value['ref'] is not string -%}
        {{ idstitch_config_error(key ~ '.ref', 'expected a model name, got ' ~ value['ref']) }}
    {%- endif -%}
{% endmacro %}


{#- a rule relation (`manual_merges`, `never_merge`) as {source, ref}; `default_ref` when not set -#}
{% macro idstitch_parse_relation(key, value, default_ref) %}
    {%- if value is none -%}
        {{ return({'source': none, 'ref': default_ref}) }}
    {%- endif -%}
    {{ idstitch_check_keys(key, value, ['source', 'ref']) }}
    {{ idstitch_check_relation(key, value) }}
    {{ return({'source': value.get('source'), 'ref': value.get('ref')}) }}
{% endmacro %}


{#- The manual merges (the var's `manual_merges` relation), read like a source of merge events
    whose unions are forced. -#}
{% macro idstitch_manual_merges_source(relation) %}
    {{ return({
        'name': 'manual_merges',
        'source': relation['source'],
        'ref': relation['ref'],
        'event_id': 'merge_id',
        'occurred_at': 'merged_at',
        'loaded_at': none,
        'strategy': 'manual',
        'identifiers': [],
        'aliases': [],
        'pairs': [{'type': 'id1_type', 'value': 'id1_value'}, {'type': 'id2_type', 'value': 'id2_value'}],
        'traits': [],
    }) }}
{% endmacro %}
