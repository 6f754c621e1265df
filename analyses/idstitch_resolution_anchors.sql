-- How ordered resolution picks each event's anchor, against example tables.
{{ idstitch_anchors_sql(api.Relation.create(identifier='example_items'), api.Relation.create(identifier='example_state')) }}
