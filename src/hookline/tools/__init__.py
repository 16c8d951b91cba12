"""Tools around Hookline: the demo, the simulator, the local listener and the API client."""
