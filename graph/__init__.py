"""Grace Memory Graph: a GraphQL server generated from YAML table specs.

`from graph import Registry` (or `AsyncRegistry`) gives the tables to Python code; see
graph/registry.py. It is imported on first use, so `import graph.spec` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from graph.registry import AsyncRegistry, Registry

__all__ = ["AsyncRegistry", "Registry", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Registry", "AsyncRegistry"):
        from graph import registry  # deferred: it loads SQLAlchemy and more

        return getattr(registry, name)
    raise AttributeError(f"module 'graph' has no attribute {name!r}")
