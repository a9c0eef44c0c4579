"""Grace Memory Graph: a GraphQL server generated from YAML table specs."""

__version__ = "0.1.0"
