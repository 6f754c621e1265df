-- The final node -> component table of the connected-components loop, against example tables.
{{ idstitch_cc_result_sql('select 1 as node_a, 2 as node_b', api.Relation.create(identifier='example_hooks'), api.Relation.create(identifier='example_representatives')) }}
