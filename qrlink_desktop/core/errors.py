"""Error codes of the specification (§10.1) and the exception that carries them.

Every failure that reaches a person or a script is one of these codes plus a sentence a
person understands; nothing else leaves the core as an exception.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # The specification's §10.1 list, verbatim.
    BOOTSTRAP_GENERATION_FAILED = "BOOTSTRAP_GENERATION_FAILED"
    BOOTSTRAP_PARSE_FAILED = "BOOTSTRAP_PARSE_FAILED"
    CONNECTION_FAILED = "CONNECTION_FAILED"
    ICE_FAILED = "ICE_FAILED"
    DATA_CHANNEL_FAILED = "DATA_CHANNEL_FAILED"
    MESSAGE_SEND_FAILED = "MESSAGE_SEND_FAILED"
    TIMEOUT = "TIMEOUT"
    REMOTE_SERVICE_ERROR = "REMOTE_SERVICE_ERROR"
    # What the protocol needs beyond §10.1.
    MESSAGE_INVALID = "MESSAGE_INVALID"
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    VERIFICATION_FAILED = "VERIFICATION_FAILED"
    PROTOCOL_VERSION_UNSUPPORTED = "PROTOCOL_VERSION_UNSUPPORTED"
    NOT_VERIFIED = "NOT_VERIFIED"
    RATE_LIMITED = "RATE_LIMITED"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"


class QrlinkError(Exception):
    """An error with a specification code and a sentence for a person."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": str(self.code), "message": self.message}


class InvalidStateError(QrlinkError):
    """A request the object cannot take in its present state: the caller's mistake (or a
    race it lost), said at once and naming the state, as aiortc's InvalidStateError does.
    Nothing changed; no event is reported for it."""

    def __init__(self, what: str, state: str) -> None:
        super().__init__(ErrorCode.INVALID_ARGUMENT, f'cannot {what} in state "{state}"')
        self.what = what
        self.state = state


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The JSON body of a refusal over HTTP, the same from the rendezvous service and the
    laptop's page server: `{"error": {"code", "message"}}`."""
    return {"error": {"code": str(code), "message": message}}
