"""Engines made by a test are shut down after it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from engine_support import Side, make_side

from qrlink_desktop.core.handshake import Role


@pytest.fixture
async def sides() -> AsyncIterator[Callable[..., Side]]:
    made: list[Side] = []

    def factory(role: Role, **kw: Any) -> Side:
        side = make_side(role, **kw)
        made.append(side)
        return side

    yield factory
    for side in made:
        await side.session.shutdown()
