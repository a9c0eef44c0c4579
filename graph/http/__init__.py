"""The HTTP layer: GraphQL over HTTP (protocol.py, endpoint.py), request ids and logs
(observe.py)."""
