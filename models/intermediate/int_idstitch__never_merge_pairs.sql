-- The never-merge seed as pairs of candidate node keys (pairs naming a value that no event
-- offers cannot bind and are left out).

{{ idstitch_never_merge_pairs_sql(ref('stg_idstitch__identifiers'), ref('int_idstitch__candidate_nodes')) }}
