"""Refusals as HTTP responses: every error the service sends has the same JSON body, and
the response remembers its code so the metrics can count refusals by it."""

from __future__ import annotations

from aiohttp import web

from qrlink_desktop.rendezvous.errors import ApiError, ApiErrorCode
from qrlink_desktop.rendezvous.validation import MAX_BODY_BYTES


def too_large() -> ApiError:
    return ApiError(
        413,
        ApiErrorCode.PAYLOAD_TOO_LARGE,
        f"The request body must be at most {MAX_BODY_BYTES} bytes.",
    )


_REFUSAL_KEY = web.ResponseKey("qrlink_refusal_code", str)


def error_response(exc: ApiError) -> web.Response:
    response = web.json_response(exc.body(), status=exc.status, headers=exc.headers)
    response[_REFUSAL_KEY] = str(exc.code)
    return response


def refusal_code(response: web.StreamResponse) -> str:
    return str(response.get(_REFUSAL_KEY, f"HTTP_{response.status}"))


_HTTP_CODES = {
    404: (ApiErrorCode.NOT_FOUND, "There is no such endpoint; see /openapi.json."),
    405: (ApiErrorCode.METHOD_NOT_ALLOWED, "This endpoint does not accept that method."),
    413: (
        ApiErrorCode.PAYLOAD_TOO_LARGE,
        f"The request body must be at most {MAX_BODY_BYTES} bytes.",
    ),
}


def http_exception_response(exc: web.HTTPException) -> web.Response:
    code, message = _HTTP_CODES.get(
        exc.status, (ApiErrorCode.INVALID_ARGUMENT, exc.reason or "The request was refused.")
    )
    if exc.status >= 500:
        code = ApiErrorCode.INTERNAL
    headers = {k: val for k, val in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    return error_response(ApiError(exc.status, code, message, headers))
