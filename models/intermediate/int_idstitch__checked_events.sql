-- The copies this run checks, with the event-level outcome of each: every copy of the events
-- that received a copy no finished run has taken into account (a full run: every copy). A copy
-- without an event id is checked by the run that reads it: it is rejected (missing_event_id),
-- and no other copy can change that. Identical copies count once; of differing copies the first
-- in (occurred_at, fingerprint) order is the event and each later copy is a duplicate. An
-- accepted copy carries its source's strategy, and each copy the batch that first read it.
{%- set config = idstitch_config() %}
{%- set full = idstitch_full_run() %}
-- depends_on: {{ ref('stg_idstitch__identifiers') }}

with

copies as (
    select * from {{ ref('int_idstitch__event_copies') }}
),
{%- if not full %}

pending_copies as (
    select *
    from copies
    where {{ idstitch_uncommitted('copies') }}
),

-- the events of the pending copies that have a copy an earlier run read (has_earlier_copy):
-- usually few or none; with none, the lookup of their older copies reads nothing of the kept
-- copies, and with a few, only their key columns
resent_keys as (
    select distinct
        source,
        event_id
    from pending_copies
    where has_earlier_copy
),

checked_copies as (
    select * from pending_copies
    union all
    select copies.*
    from copies
    inner join resent_keys
        on copies.source = resent_keys.source and copies.event_id = resent_keys.event_id
    where not ({{ idstitch_uncommitted('copies') }})
),
{%- else %}

checked_copies as (
    select * from copies
),
{%- endif %}

-- the staged identifiers of the checked copies, not those of every copy ever read
identifiers as (
    {{ idstitch_checked_identifiers_sql('checked_copies') | indent(4) }}
),

ranked as (
    select
        source,
        event_id,
        occurred_at,
        has_raw_occurred_at,
        fingerprint,
        batch_id,
        case
            when event_id is not null
                then row_number() over (
                    partition by source, event_id
                    order by
                        case when occurred_at is null then 1 else 0 end,
                        occurred_at,
                        case when has_raw_occurred_at then 0 else 1 end,
                        fingerprint
                )
        end as copy_rank
    from checked_copies
),

copy_checks as (
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        batch_id,
        case
            when event_id is null then 'missing_event_id'
            when copy_rank > 1 then 'duplicate_event_id'
            when occurred_at is null and has_raw_occurred_at then 'invalid_occurred_at'
            when occurred_at is null then 'missing_occurred_at'
        end as reject_reason
    from ranked
),

valid_identifier_counts as (
    select
        identifiers.source,
        identifiers.event_id,
        identifiers.occurred_at,
        identifiers.fingerprint,
        count(*) as valid_identifier_count
    from identifiers
    inner join copy_checks
        on
            identifiers.source = copy_checks.source
            and identifiers.event_id = copy_checks.event_id
            and identifiers.occurred_at = copy_checks.occurred_at
            and identifiers.fingerprint = copy_checks.fingerprint
    where
        identifiers.reject_reason is null
        and identifiers.role != 'alias'
        and copy_checks.reject_reason is null
    group by identifiers.source, identifiers.event_id, identifiers.occurred_at, identifiers.fingerprint
),

final as (
    select
        copy_checks.source,
        copy_checks.event_id,
        copy_checks.occurred_at,
        copy_checks.fingerprint,
        coalesce(
            copy_checks.reject_reason,
            case when valid_identifier_counts.valid_identifier_count is null then 'no_valid_identifier' end
        ) as reject_reason,
        case copy_checks.source
            {%- for s in config['event_sources'] %}
            when {{ idstitch_literal(s['name']) }} then {{ idstitch_literal(s['strategy']) }}
            {%- endfor %}
        end as strategy,
        copy_checks.batch_id
    from copy_checks
    left join valid_identifier_counts
        on
            copy_checks.source = valid_identifier_counts.source
            and copy_checks.event_id = valid_identifier_counts.event_id
            and copy_checks.occurred_at = valid_identifier_counts.occurred_at
            and copy_checks.fingerprint = valid_identifier_counts.fingerprint
)

select * from final
