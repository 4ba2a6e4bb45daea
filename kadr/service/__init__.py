"""The studio service: jobs, quotas, users and keys, worker processes, and an OpenAI-compatible HTTP API.

``kadr serve`` runs it (see kadr.service.cli and docs/api.md); :func:`kadr.service.app.create_app`
builds the FastAPI application from :class:`kadr.service.settings.ServiceSettings`.
"""
