"""The benchmark harness: Hookline against a bare client's ceiling, on loopback, in one run."""
