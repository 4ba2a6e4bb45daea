"""/healthz (liveness, no auth) and /metrics (Prometheus text, no auth)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from kadr import __version__
from kadr.service.api.models import Health
from kadr.service.metrics import CONTENT_TYPE

router = APIRouter()


@router.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "The store is down."}})
def healthz(request: Request) -> Response:
    state = request.app.state
    try:
        counts = state.jobs.count_by_status()
        status = "ok"
    except Exception:  # the store is down: say so, with 503
        counts, status = {}, "degraded"
    stats = state.scheduler.stats()
    body = Health(status=status, version=__version__, store=state.db.dialect,
                  workers={"total": stats.total if stats else 0, "ready": stats.ready if stats else 0,
                           "busy": stats.busy if stats else 0},
                  jobs={"queued": counts.get("queued", 0), "running": counts.get("running", 0)})
    return JSONResponse(body.model_dump(), status_code=200 if status == "ok" else 503)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format."}})
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
