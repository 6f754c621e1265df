-- How a probed prefix of tentative decisions is verified against its state H, against
-- example tables.
{{ idstitch_res_verify_sql(
    api.Relation.create(identifier='example_bounds'),
    api.Relation.create(identifier='example_probe'),
    api.Relation.create(identifier='example_tentative'),
    api.Relation.create(identifier='example_h'),
    api.Relation.create(identifier='example_state'),
    api.Relation.create(identifier='example_never'),
    api.Relation.create(identifier='example_node_types'),
    api.Relation.create(identifier='example_seen')) }}
