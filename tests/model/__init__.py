"""The reference model of the differential test (tests/test_differential.py).

The model answers a GraphQL document the way docs/api.md says the server must: it reads every
row with a plain `SELECT *`, decodes the stored forms itself (docs/schema-format.md), and then
filters, links, orders, pages and renders in plain Python, one rule of the contract at a time.

Independence rule: nothing here reads or imports the engine's query code (graph/sql/ apart from
creating tables and inserting rows, graph/gql/, graph/plan.py, graph/cursors.py). The model is
written from the documentation only; where the documentation is silent, it takes the most
literal reading and says so in a comment. It uses the spec loader's dataclasses
(graph/spec/model.py) and the names of graph/naming.py, and graphql-core only to parse the
document it is given.

- rows.py: read and decode every table.
- evaluate.py: the model itself (filters, links, ordering, pages, connections, lookups, output).
- generate.py: hypothesis strategies, driven by the spec and the data, rendering documents.
- adversarial.py: the adversarial rows inserted beside the sample data.
"""
