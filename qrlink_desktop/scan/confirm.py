"""Multi-frame confirmation: accept a code only once several recent frames agree on it.

A single frame can decode wrongly (a misread that passes the checksum is rare but real
on blurred, glared webcam frames) and a code glimpsed while the phone swings past is not
one the customer meant to show. As Electrum's QR reader does, a text is accepted when it
appears in at least `needed` of the last `window_frames` decoded frames, all within
`window_seconds`; then it is emitted once, until `reset()`.

Pure logic: the caller passes `now` (a monotonic reading) with every frame. The page's
in-page scanner (resources/mobile/src/confirm.ts) follows the same rule with the same
defaults; both replay resources/protocol/scan-confirmation.json.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

DEFAULT_NEEDED = 2
DEFAULT_WINDOW_FRAMES = 4
DEFAULT_WINDOW_SECONDS = 1.0


class Confirmer:
    def __init__(
        self,
        needed: int = DEFAULT_NEEDED,
        window_frames: int = DEFAULT_WINDOW_FRAMES,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
    ) -> None:
        if needed < 1:
            raise ValueError("a code needs at least one sighting to be accepted")
        if window_frames < needed:
            raise ValueError(
                f"a window of {window_frames} frames can never hold {needed} sightings"
            )
        if window_seconds <= 0:
            raise ValueError("the time window must be positive")
        self.needed = needed
        self.window_frames = window_frames
        self.window_seconds = window_seconds
        # (time, texts seen in that frame), oldest first; frames with no code count too,
        # so a code seen once and then lost does not linger in the window.
        self._frames: deque[tuple[float, frozenset[str]]] = deque(maxlen=window_frames)
        self._accepted: set[str] = set()

    @property
    def accepted(self) -> frozenset[str]:
        """Texts already emitted since the last reset."""
        return frozenset(self._accepted)

    def observe(self, texts: Iterable[str], now: float) -> list[str]:
        """Record one decoded frame; return the texts it confirms for the first time.

        Texts come back in the order the frame listed them, each at most once.
        """
        if self._frames and now < self._frames[-1][0]:
            # The clock went back (it should not, it is monotonic): older sightings can no
            # longer be placed in time, so start counting afresh rather than guess.
            self._frames.clear()
        listed = list(dict.fromkeys(texts))  # keeps order, drops repeats within the frame
        self._frames.append((now, frozenset(listed)))
        horizon = now - self.window_seconds
        while self._frames and self._frames[0][0] < horizon:
            self._frames.popleft()

        confirmed: list[str] = []
        for text in listed:
            if text in self._accepted:
                continue
            sightings = sum(1 for _, frame in self._frames if text in frame)
            if sightings >= self.needed:
                self._accepted.add(text)
                confirmed.append(text)
        return confirmed

    def reset(self) -> None:
        """Forget sightings and accepted texts: the next customer's code is new again."""
        self._frames.clear()
        self._accepted.clear()
