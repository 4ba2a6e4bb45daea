"""The HTTP API: thin FastAPI routes over the services (docs/api.md)."""
