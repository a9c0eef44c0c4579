"""Deterministic, cross-linked sample data for every table of the spec.

- plan.py: counts, keys, relation pools and table order, from the spec
- values.py: generic values by field type and name (no table knowledge)
- generate.py: one table's rows as tuples, from its FieldSpecs and the plan
- grace.py: the Grace profile (sizes, readable keys, status spreads, row fixups)
- load.py: seed_database (COPY or executemany in one transaction, progress bar)
"""

from graph.seed.load import SeedError, seed_database

__all__ = ["SeedError", "seed_database"]
