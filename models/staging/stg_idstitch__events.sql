-- One row per raw row of every configured source: the event's key, its time and a
-- fingerprint of its configured columns. Deduplication happens downstream.
{{ idstitch_source_events_sql(idstitch_config()) }}
