"""Refusals the service sends back: an HTTP status, a stable code and a sentence.

Codes reuse the core's names where one fits (INVALID_ARGUMENT, RATE_LIMITED) so a client
can hand them to a person unchanged; the rest name what HTTP already says.
"""

from __future__ import annotations

from enum import StrEnum

from qrlink_desktop.core.errors import ErrorCode, error_body
from qrlink_desktop.core.ratelimit import Decision


class ApiErrorCode(StrEnum):
    INVALID_ARGUMENT = str(ErrorCode.INVALID_ARGUMENT)
    RATE_LIMITED = str(ErrorCode.RATE_LIMITED)
    NOT_FOUND = "NOT_FOUND"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    CONFLICT = "CONFLICT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    STORE_FULL = "STORE_FULL"
    INTERNAL = "INTERNAL"


class ApiError(Exception):
    """Raised by a handler; the error middleware turns it into the JSON error body."""

    def __init__(
        self,
        status: int,
        code: ApiErrorCode,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, dict[str, str]]:
        return error_body(self.code, self.message)


def invalid(message: str) -> ApiError:
    return ApiError(400, ApiErrorCode.INVALID_ARGUMENT, message)


def too_many(decision: Decision, message: str) -> ApiError:
    return ApiError(
        429, ApiErrorCode.RATE_LIMITED, message, {"Retry-After": decision.retry_after_header}
    )
