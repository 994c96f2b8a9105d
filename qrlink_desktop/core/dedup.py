"""Every payment message a conversation has acted on, and the reply each one got.

Kept for the conversation's whole life, not for a time window: a payment request replayed
however late (after a new pairing, or a copy delayed on the wire) meets its recorded reply
instead of a second decision. Memory is bounded by count: only messages the conversation
acted on are recorded (junk ids take no room), and the conversation admits a fixed number
of payment requests (conversation.MAX_PAYMENT_REQUESTS), so the log never grows past a
small multiple of that.
"""

from __future__ import annotations


class ReplyLog:
    def __init__(self) -> None:
        self._replies: dict[str, str | None] = {}

    def record(self, message_id: str) -> None:
        """The message was acted on; its reply, if it gets one, comes with `set_reply`."""
        self._replies.setdefault(message_id, None)

    def set_reply(self, message_id: str, reply: str) -> None:
        if message_id in self._replies:
            self._replies[message_id] = reply

    def reply(self, message_id: str) -> str | None:
        return self._replies.get(message_id)

    def __len__(self) -> int:
        return len(self._replies)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._replies
