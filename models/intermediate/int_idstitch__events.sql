-- One row per distinct event copy with its outcome: accepted events get their place in the
-- global order (occurred_at, source, event_id) and their source's strategy; the rest carry a
-- reject reason.
{%- set config = idstitch_config() %}

with

copies as (
    select * from {{ ref('int_idstitch__event_copies') }}
),

identifiers as (
    select * from {{ ref('stg_idstitch__identifiers') }}
),

valid_identifier_counts as (
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        count(*) as valid_identifier_count
    from identifiers
    where
        reject_reason is null
        and role != 'alias'
    group by source, event_id, occurred_at, fingerprint
),

checked as (
    select
        copies.source,
        copies.event_id,
        copies.occurred_at,
        copies.fingerprint,
        coalesce(valid_identifier_counts.valid_identifier_count, 0) as valid_identifier_count,
        coalesce(
            copies.reject_reason,
            case when valid_identifier_counts.valid_identifier_count is null then 'no_valid_identifier' end
        ) as reject_reason
    from copies
    left join valid_identifier_counts
        on
            copies.source = valid_identifier_counts.source
            and copies.event_id = valid_identifier_counts.event_id
            and copies.occurred_at = valid_identifier_counts.occurred_at
            and copies.fingerprint = valid_identifier_counts.fingerprint
),

accepted as (
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        valid_identifier_count,
        reject_reason,
        row_number() over (order by occurred_at, source, event_id) as event_rank,
        case source
            {%- for s in config['event_sources'] %}
            when {{ idstitch_literal(s['name']) }} then {{ idstitch_literal(s['strategy']) }}
            {%- endfor %}
        end as strategy
    from checked
    where reject_reason is null
),

rejected as (
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        valid_identifier_count,
        reject_reason,
        cast(null as {{ dbt.type_bigint() }}) as event_rank,
        cast(null as {{ dbt.type_string() }}) as strategy
    from checked
    where reject_reason is not null
),

final as (
    select * from accepted
    union all
    select * from rejected
)

select * from final
