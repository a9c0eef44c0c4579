"""The GraphQL layer: strawberry types built from the spec, selections turned into plans."""
