-- Composing the hooks of a round with the representatives of the next, against example tables.
{{ idstitch_cc_compose_sql(api.Relation.create(identifier='example_hooks'), api.Relation.create(identifier='example_next')) }}
