"""Hookline: signed, retried, logged webhook delivery for interview lifecycle events."""

__version__ = "0.1.0"
