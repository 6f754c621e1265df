-- One round of randomized contraction, step 2 (re-pointed edges), against example tables.
{{ idstitch_cc_contract_sql(api.Relation.create(identifier='example_edges'), api.Relation.create(identifier='example_hooks')) }}
