"""Exit statuses of `qrlink peer`, and the one way a session's reported failure ends it."""

from __future__ import annotations

from ..core.errors import ErrorCode, QrlinkError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_UNVERIFIED, EXIT_DECLINED = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
_BAD_INPUT = {
    ErrorCode.BOOTSTRAP_PARSE_FAILED,
    ErrorCode.INVALID_ARGUMENT,
    ErrorCode.MESSAGE_INVALID,
}


class SessionFailed(Exception):
    """The session (or the publication) failed and said so in its own `error` event:
    all that is left is the exit status and the line on standard error."""

    def __init__(self, error: QrlinkError | None) -> None:
        self.said = error is not None  # else nothing told why: the line says it
        self.error = error or QrlinkError(ErrorCode.CONNECTION_FAILED, "the session failed")
        super().__init__(str(self.error))


def exit_status(error: QrlinkError) -> int:
    if error.code == ErrorCode.VERIFICATION_FAILED:
        return EXIT_UNVERIFIED
    return EXIT_BAD_INPUT if error.code in _BAD_INPUT else EXIT_FAILED
