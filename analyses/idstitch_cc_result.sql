-- The final node -> component table of the connected-components loop, against example tables.
{{ idstitch_cc_result_sql(api.Relation.create(identifier='example_nodes'), api.Relation.create(identifier='example_representatives')) }}
