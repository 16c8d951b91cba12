"""Delivery: the worker (claim, send, record), the HTTP sender, signing, retries, URL safety."""
