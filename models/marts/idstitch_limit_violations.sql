-- One row per union a merge (or manual merge) asked for and a rule refused: the event, the
-- identifier left out, the profile it would have joined, and why (limit_exceeded with the
-- type that would overflow, or never_merge).
{{ idstitch_skips_sql('violation') }}
