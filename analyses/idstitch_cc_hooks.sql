-- One round of randomized contraction, step 1 (hooks), as the idstitch_components
-- materialization runs it; rendered here against example tables so it can be read and linted.
{{ idstitch_cc_hooks_sql(api.Relation.create(identifier='example_edges'), 1) }}
