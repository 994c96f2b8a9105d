"""Whoever listens to a component (a session, a publication): told in the order they
came, and a listener that raises is logged, never allowed to break the one telling."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


class Listeners(Generic[T]):
    def __init__(self, first: Callable[[T], None] | None = None) -> None:
        self._listeners: list[Callable[[T], None]] = [first] if first is not None else []

    def add(self, listener: Callable[[T], None]) -> None:
        self._listeners.append(listener)

    def remove(self, listener: Callable[[T], None]) -> None:
        self._listeners.remove(listener)

    def tell(self, value: T) -> None:
        for listener in list(self._listeners):
            try:
                listener(value)
            except Exception:
                log.exception("a listener failed on %s", type(value).__name__)
