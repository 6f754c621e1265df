-- How ordered resolution decides items against a state (all strategies, limits, never-merge),
-- rendered against example tables so it can be read and linted.
{{ idstitch_decide_sql(
    api.Relation.create(identifier='example_items'),
    api.Relation.create(identifier='example_state'),
    api.Relation.create(identifier='example_anchors'),
    api.Relation.create(identifier='example_never'),
    api.Relation.create(identifier='example_node_types'),
    api.Relation.create(identifier='example_seen'),
    api.Relation.create(identifier='example_items')) }}
