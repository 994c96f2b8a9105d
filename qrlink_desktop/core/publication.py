"""Remote publication of one offer on the rendezvous service, as its own small table.

    PUBLISHING --published--> PUBLISHED --answer_found--> ANSWERED --end--> ENDED
        |                        |
        +--failed--> FAILED <----+       (and end --> ENDED from either)

remote.py drives it; the window shows it. The publication's failure (the service failed,
or nobody answered in time) is its own, said once; once the answer is found, what happens
to the pairing is the session's to say, and the publication just ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import InvalidStateError, QrlinkError


class PublicationState(StrEnum):
    PUBLISHING = "publishing"  # a fresh offer is being made and published
    PUBLISHED = "published"  # findable under the handle; waiting for the answer
    ANSWERED = "answered"  # the answer came through the service; the pairing goes on
    FAILED = "failed"  # the service failed (or nobody answered in time)
    ENDED = "ended"  # withdrawn (new customer, a scanned answer, closing) or done


class PublicationInput(StrEnum):
    PUBLISHED = "published"  # the service took the offer
    ANSWER_FOUND = "answer_found"  # the answer is on the reply handle
    FAILED = "failed"
    END = "end"


P, In = PublicationState, PublicationInput

TRANSITIONS: dict[tuple[PublicationState, PublicationInput], PublicationState] = {
    (P.PUBLISHING, In.PUBLISHED): P.PUBLISHED,
    (P.PUBLISHING, In.FAILED): P.FAILED,
    (P.PUBLISHING, In.END): P.ENDED,
    (P.PUBLISHED, In.ANSWER_FOUND): P.ANSWERED,
    (P.PUBLISHED, In.FAILED): P.FAILED,
    (P.PUBLISHED, In.END): P.ENDED,
    (P.ANSWERED, In.END): P.ENDED,
}

# Ending what has ended already (a withdrawal racing the failure) changes nothing.
IGNORED: frozenset[tuple[PublicationState, PublicationInput]] = frozenset(
    {(P.FAILED, In.END), (P.ENDED, In.END)}
)

ACTIVE = frozenset({P.PUBLISHING, P.PUBLISHED, P.ANSWERED})


@dataclass(frozen=True)
class PublicationChanged:
    """The publication moved on: where it stands, under which handle, until when (seconds
    since the epoch, once published), and why it failed."""

    state: PublicationState
    handle: str
    expires_at: float | None = None
    error: QrlinkError | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def next_state(state: PublicationState, event: PublicationInput) -> PublicationState:
    """The table's answer; the same state for an ignored input; InvalidStateError else."""
    if (state, event) in IGNORED:
        return state
    if (state, event) not in TRANSITIONS:
        raise InvalidStateError(f"handle {event}", state)
    return TRANSITIONS[(state, event)]
