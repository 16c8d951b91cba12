"""The service layer: every rule of Hookline, once. The API, the dashboard and the CLI
parse their input, call a service with the caller's principal, and render the result;
only this layer (and the composition root) touches ``store``."""
