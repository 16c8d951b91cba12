"""Pure rules of Hookline: event types, payload models, webhook rules. No I/O."""
