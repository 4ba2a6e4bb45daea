"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``, whatever raised them."""

from __future__ import annotations

import logging
import reprlib
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kadr.errors import InvalidRequestError
from kadr.service.api.middleware import BodyTooLarge
from kadr.service.api.models import ErrorResponse
from kadr.service.store import QuotaExceeded
from kadr.service.features import UnsupportedFeature
from kadr.service.videos import NotFound, NotReady

log = logging.getLogger("kadr.service.api")

# How a refused value is quoted back: short, and shallow (a body may nest thousands of levels).
_QUOTE = reprlib.Repr()
_QUOTE.maxlevel, _QUOTE.maxstring, _QUOTE.maxother, _QUOTE.maxlong = 2, 60, 60, 40
_QUOTE.maxlist = _QUOTE.maxtuple = _QUOTE.maxdict = 4

# VideoRequest's field names -> the API's parameter names.
PARAM_NAMES = {"duration": "seconds", "resolution": "size", "tier": "quality", "image": "input_reference"}


# What each error status means, for the OpenAPI document (every one answers ErrorResponse).
STATUS_MEANINGS: dict[int, str] = {
    400: "Invalid request: a field, the body or a query parameter (the message and param say which).",
    401: "Missing or wrong API key.",
    404: "No such video (or character) for this key (other users' are not found either); param names the field.",
    409: "The video has no content yet (it is not completed).",
    413: "The request body is larger than the server accepts.",
    429: "Over the key's request rate (rate_limit_error, with retry-after) or the plan's quota (insufficient_quota).",
    500: "The server had an error.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: these statuses, plus 401, 413, 429 and 500, which every /v1 route can answer."""
    return {status: {"model": ErrorResponse, "description": STATUS_MEANINGS[status]}
            for status in sorted({*statuses, 401, 413, 429, 500})}


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


def _unsupported(_: Request, exc: Exception) -> JSONResponse:
    """A model asked for what it cannot do (kadr.service.features.UnsupportedFeature): its field is already the API's."""
    assert isinstance(exc, InvalidRequestError)
    return error_response(400, str(exc), code="unsupported_feature", param=exc.field)


def quote(value: Any) -> str:
    """A refused value as messages show it: at most a line, never the whole of a huge or deep value."""
    try:
        return _QUOTE.repr(value)
    except (ValueError, RecursionError):  # an int past the int-str conversion limit; nesting past the stack
        return f"<{type(value).__name__}>"


def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, InvalidRequestError):  # raised by a model's own check: its message names the field
        return _invalid(request, cause)
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    param = ".".join(loc)[:40] or None
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        return error_response(400, f"Unknown parameter: {quote(param)}.", code="unknown_parameter", param=param)
    if kind == "missing":
        return error_response(400, f"Missing required parameter: '{param}'.", code="missing_required_parameter", param=param)
    msg = str(first.get("msg", "invalid value"))
    message = f"{param}: got {quote(first.get('input'))}; {msg}" if param else msg
    return error_response(400, message, code="invalid_value", param=param)


def _quota(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QuotaExceeded)
    # x-should-retry: the openai client would otherwise retry a 429 that cannot succeed before the reset.
    headers = {"x-should-retry": "false"}
    if exc.resets_at is not None:
        headers["x-kadr-limit-resets-at"] = exc.resets_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return error_response(429, str(exc), "insufficient_quota", exc.limit, None, headers)


def _not_found(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFound)
    # GET /v1/videos/edits reached the {video_id} route, but the path is POST /v1/videos/edits's: 405, as for any path.
    allowed = allowed_methods(request)
    if allowed and request.method not in allowed:
        return _method_not_allowed(request, allowed)
    return error_response(404, str(exc), code="not_found", param=exc.param)


def _method_not_allowed(request: Request, allowed: list[str]) -> JSONResponse:
    path = request.url.path if len(request.url.path) <= 80 else request.url.path[:77] + "..."
    return error_response(405, f"Method {request.method} is not allowed on {path}; allowed: {', '.join(allowed)}.",
                          code="method_not_allowed", headers={"allow": ", ".join(allowed)})


def _not_ready(_: Request, exc: Exception) -> JSONResponse:
    return error_response(409, str(exc), code="video_not_ready")


def allowed_methods(request: Request) -> list[str]:
    """The methods of the API routes whose path matches this request's (empty: no API route has this path).

    Asked here because the studio page's files are mounted at "/": a method no route at the path takes
    falls through to them, and they would answer 404, or 405 with their own ``Allow: GET, HEAD``.
    """
    from fastapi.routing import iter_route_contexts

    # A path that spells out a route (/v1/videos/extensions) is that route's, not also a {video_id}'s: of the
    # routes that match, those with the most literal segments say what the path takes.
    methods: dict[int, set[str]] = {}
    for context in iter_route_contexts(request.app.routes):
        regex = getattr(context.route, "path_regex", None)
        if regex is not None and context.methods and regex.match(request.url.path):
            path = getattr(context.route, "path", "")
            literal = sum(1 for part in path.split("/") if part and not part.startswith("{"))
            methods.setdefault(literal, set()).update(context.methods)
    return sorted(methods[max(methods)]) if methods else []


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path if len(request.url.path) <= 80 else request.url.path[:77] + "..."
    if exc.status_code in (404, 405):
        allowed = allowed_methods(request)
        if allowed and request.method not in allowed:
            return _method_not_allowed(request, allowed)
    if exc.status_code == 404:
        return error_response(404, f"Unknown request URL: {request.method} {path}.", code="unknown_url")
    if exc.status_code == 405:
        return error_response(405, f"Method {request.method} is not allowed on {path}.",
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
    app.add_exception_handler(UnsupportedFeature, _unsupported)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(QuotaExceeded, _quota)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(NotReady, _not_ready)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(BodyTooLarge, _too_large)
    app.add_exception_handler(Exception, _internal)
