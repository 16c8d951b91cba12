"""The HTTP API: FastAPI app factory, one module per resource, auth and error handling."""
