"""Every (state, input) pair of the remote publication's table: a transition, ignored,
or refused naming the state."""

from __future__ import annotations

import itertools

import pytest

from qrlink_desktop.core.errors import InvalidStateError
from qrlink_desktop.core.publication import (
    ACTIVE,
    IGNORED,
    TRANSITIONS,
    PublicationChanged,
    PublicationInput,
    PublicationState,
    next_state,
)

P, In = PublicationState, PublicationInput
EXPECTED = {
    (P.PUBLISHING, In.PUBLISHED): P.PUBLISHED,
    (P.PUBLISHING, In.FAILED): P.FAILED,
    (P.PUBLISHING, In.END): P.ENDED,
    (P.PUBLISHED, In.ANSWER_FOUND): P.ANSWERED,
    (P.PUBLISHED, In.FAILED): P.FAILED,
    (P.PUBLISHED, In.END): P.ENDED,
    (P.ANSWERED, In.END): P.ENDED,
}


@pytest.mark.parametrize(("state", "event"), list(itertools.product(P, In)))
def test_every_pair(state: PublicationState, event: PublicationInput) -> None:
    if (state, event) in EXPECTED:
        assert next_state(state, event) == EXPECTED[(state, event)]
    elif (state, event) in IGNORED:
        assert next_state(state, event) == state
    else:
        with pytest.raises(InvalidStateError) as refused:
            next_state(state, event)
        assert f'"{state}"' in refused.value.message


def test_the_table_and_what_counts_as_under_way() -> None:
    assert TRANSITIONS == EXPECTED and not set(TRANSITIONS) & IGNORED
    assert ACTIVE == {P.PUBLISHING, P.PUBLISHED, P.ANSWERED}
    assert PublicationChanged(P.PUBLISHED, "corner-shop").active
    assert not PublicationChanged(P.FAILED, "corner-shop").active
