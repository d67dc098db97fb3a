"""Storage: the schema, the engine and the queries every other part goes through."""

from vigia.storage.engine import open_engine

__all__ = ["open_engine"]
