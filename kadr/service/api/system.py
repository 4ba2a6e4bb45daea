"""/healthz (readiness with reasons, no auth) and /metrics (Prometheus text, no auth).

/healthz answers 200 for ``ok`` and ``degraded`` and 503 for ``down`` (see kadr.service.health).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from kadr import __version__
from kadr.service.api.models import Health, HealthCheck
from kadr.service.metrics import CONTENT_TYPE

router = APIRouter()


@router.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "The store is down."}})
def healthz(request: Request) -> Response:
    state = request.app.state
    report = state.health.report()
    stats = report.workers
    body = Health(status=report.status, reasons=report.reasons,
                  checks=[HealthCheck(name=c.name, ok=c.ok, severity="down" if c.severity == "down" else "degraded",
                                      detail=c.detail) for c in report.checks],
                  version=__version__, store=state.db.dialect,
                  workers={"total": stats.total if stats else 0, "ready": stats.ready if stats else 0,
                           "busy": stats.busy if stats else 0},
                  jobs={"queued": report.jobs.get("queued", 0), "running": report.jobs.get("running", 0)},
                  disk_free_bytes=report.disk_free)
    return JSONResponse(body.model_dump(), status_code=report.http_status,
                        headers={"cache-control": "no-store"})


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format."}})
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
