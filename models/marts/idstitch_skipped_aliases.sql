-- One row per identifier a first_alias event, or alias column, could not add to the event's
-- profile: owned_by_other_profile, limit_exceeded (with the type) or never_merge.
{{ idstitch_skips_sql('skipped_alias') }}
