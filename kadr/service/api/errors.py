"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``, whatever raised them."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kadr.errors import InvalidRequestError
from kadr.service.api.middleware import BodyTooLarge
from kadr.service.store import QuotaExceeded
from kadr.service.videos import NotFound, NotReady

log = logging.getLogger("kadr.service.api")

# VideoRequest's field names -> the API's parameter names.
PARAM_NAMES = {"duration": "seconds", "resolution": "size", "tier": "quality", "image": "input_reference"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}


def error_response(status: int, message: str, type: str = "invalid_request_error", code: str | None = None,
                   param: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.type, exc.code, exc.param, exc.headers)


def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidRequestError)
    param = PARAM_NAMES.get(exc.field, exc.field)
    message = str(exc)
    if param != exc.field:
        message = f"{param}{message[len(exc.field):]}"
    return error_response(400, message, code="invalid_value", param=param)


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    param = ".".join(loc) or None
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        return error_response(400, f"Unknown parameter: '{param}'.", code="unknown_parameter", param=param)
    if kind == "missing":
        return error_response(400, f"Missing required parameter: '{param}'.", code="missing_required_parameter", param=param)
    shown = first.get("input")
    message = f"{param}: got {shown!r}; {first.get('msg', 'invalid value')}" if param else str(first.get("msg", "invalid request"))
    return error_response(400, message, code="invalid_value", param=param)


def _quota(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QuotaExceeded)
    # x-should-retry: the openai client would otherwise retry a 429 that cannot succeed before the reset.
    headers = {"x-should-retry": "false"}
    if exc.resets_at is not None:
        headers["x-kadr-limit-resets-at"] = exc.resets_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return error_response(429, str(exc), "insufficient_quota", exc.limit, None, headers)


def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return error_response(404, str(exc), code="not_found")


def _not_ready(_: Request, exc: Exception) -> JSONResponse:
    return error_response(409, str(exc), code="video_not_ready")


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        message = f"Unknown request URL: {request.method} {request.url.path}."
        return error_response(404, message, code="unknown_url")
    if exc.status_code == 405:
        return error_response(405, f"Method {request.method} is not allowed on {request.url.path}.",
                              code="method_not_allowed", headers=dict(exc.headers or {}))
    return error_response(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))


def _too_large(_: Request, exc: Exception) -> JSONResponse:
    return error_response(413, str(exc), code="request_too_large")


def _internal(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "The server had an error while processing your request.", "server_error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(InvalidRequestError, _invalid)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(QuotaExceeded, _quota)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(NotReady, _not_ready)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(BodyTooLarge, _too_large)
    app.add_exception_handler(Exception, _internal)
