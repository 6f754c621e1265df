-- The events this run resolves, and the checked copies it rejects. Accepted events get their
-- place in the order (occurred_at, source, event_id) among the events of this run, which is
-- their order among all events (only the order matters), and their source's strategy; the
-- rest carry a reject reason. Events resolved again without new copies come from their index
-- rows (int_idstitch__working_observations).
{%- set profile_erasing = idstitch_profile_erasure_applies() %}
-- depends_on: {{ ref('int_idstitch__erased_profiles') }}
-- depends_on: {{ ref('stg_idstitch__identifiers') }}

with
{%- if profile_erasing %}

-- an event that carries a value of an erased profile is rejected `erased` (docs/semantics.md §3c)
checked_copies as (
    select * from {{ ref('int_idstitch__checked_events') }}
),

erased_copies as (
    select distinct
        identifiers.source,
        identifiers.event_id,
        identifiers.occurred_at,
        identifiers.fingerprint
    from {{ ref('stg_idstitch__identifiers') }} as identifiers
    inner join checked_copies
        on
            identifiers.source = checked_copies.source
            and identifiers.event_id = checked_copies.event_id
            and identifiers.occurred_at = checked_copies.occurred_at
            and identifiers.fingerprint = checked_copies.fingerprint
    where
        -- the check comes before no_valid_identifier: the value may be forgotten by itself too
        (checked_copies.reject_reason is null or checked_copies.reject_reason = 'no_valid_identifier')
        and identifiers.role != 'never_merge'
        and (
            identifiers.carries_profile_request
            or (
                identifiers.reject_reason is null
                and {{ idstitch_is_erased_sql(idstitch_md5("identifiers.id_type || ':' || identifiers.id_value"), 'profile') }}
            )
        )
),

checked as (
    select
        checked_copies.source,
        checked_copies.event_id,
        checked_copies.occurred_at,
        checked_copies.fingerprint,
        case
            when erased_copies.source is not null then 'erased'
            else checked_copies.reject_reason
        end as reject_reason,
        checked_copies.strategy
    from checked_copies
    left join erased_copies
        on
            checked_copies.source = erased_copies.source
            and checked_copies.event_id = erased_copies.event_id
            and checked_copies.occurred_at = erased_copies.occurred_at
            and checked_copies.fingerprint = erased_copies.fingerprint
),
{%- else %}

checked as (
    select * from {{ ref('int_idstitch__checked_events') }}
),
{%- endif %}

accepted as (
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        strategy,
        true as is_checked
    from checked
    where reject_reason is null
    union all
    select distinct
        source,
        event_id,
        occurred_at,
        fingerprint,
        strategy,
        false as is_checked
    from {{ ref('int_idstitch__working_observations') }}
    where is_resolved and not is_checked
),

final as (
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        cast(null as {{ dbt.type_string() }}) as reject_reason,
        row_number() over (order by occurred_at, source, event_id) as event_rank,
        strategy,
        is_checked
    from accepted
    union all
    select
        source,
        event_id,
        occurred_at,
        fingerprint,
        reject_reason,
        cast(null as {{ dbt.type_bigint() }}) as event_rank,
        cast(null as {{ dbt.type_string() }}) as strategy,
        true as is_checked
    from checked
    where reject_reason is not null
)

select * from final
