"""A window of recently seen message ids, and the reply each one got.

A duplicate request gets the identical reply (same messageId), so a retry after a lost
reply cannot cause the payment to be processed twice. Bounded in count and in time.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Seen:
    at: float
    reply: str | None


class DedupWindow:
    def __init__(self, max_entries: int = 1024, max_age: float = 600.0) -> None:
        self._max_entries = max_entries
        self._max_age = max_age
        self._seen: OrderedDict[str, _Seen] = OrderedDict()

    def _prune(self, now: float) -> None:
        while self._seen:
            key, entry = next(iter(self._seen.items()))
            if len(self._seen) > self._max_entries or now - entry.at > self._max_age:
                del self._seen[key]
            else:
                break

    def check(self, message_id: str, now: float) -> tuple[bool, str | None]:
        """(seen before, the reply recorded for it). Records the id when it is new."""
        self._prune(now)
        entry = self._seen.get(message_id)
        if entry is not None:
            return True, entry.reply
        self._seen[message_id] = _Seen(now, None)
        self._prune(now)
        return False, None

    def record_reply(self, message_id: str, reply: str) -> None:
        entry = self._seen.get(message_id)
        if entry is not None:
            entry.reply = reply

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._seen
