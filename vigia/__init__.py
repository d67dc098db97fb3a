"""Vigía core: configuration, storage, pipeline, scheduling, alerts, exports and the CLI."""

__version__ = "0.1.0"
