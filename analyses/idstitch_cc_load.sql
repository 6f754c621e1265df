-- The loop's input: distinct undirected edges of the model's node pairs.
{{ idstitch_cc_initial_edges_sql('select 1 as node_a, 2 as node_b') }}
