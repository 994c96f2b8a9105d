"""What `qrlink peer` prints: with --json every event is one JSON object per line on
standard output (resources/protocol/events.schema.json); without it the offer or answer
text alone on standard output and a sentence per event on standard error."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from ..core.events import (
    AnswerReady,
    AnswerRefused,
    AnswerTaken,
    Closed,
    CodeReady,
    Direction,
    ErrorEvent,
    Event,
    MessageEvent,
    OfferReady,
    QrWritten,
    StateChanged,
)
from ..core.publication import PublicationChanged
from ..core.qrsize import smallest_version

Reported = Event | PublicationChanged


class Reporter:
    """Prints what the sessions and the publication tell: JSON lines, or the texts alone
    on stdout and prose on stderr."""

    def __init__(self, as_json: bool, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
        self.as_json = as_json
        self.out = out
        self.err = err

    def __call__(self, event: Reported) -> None:
        if isinstance(event, PublicationChanged):
            return  # the window's; the stream has `published` and `answer_found`
        if self.as_json:
            print(json.dumps(event.to_json(), separators=(",", ":")), file=self.out, flush=True)
            return
        match event:
            case AnswerTaken(via=via):
                self.say(f"answer received ({via})")
            case AnswerRefused(status=status, code=code):
                self.say(f"answer request refused: {status} {code}")
            case OfferReady() | AnswerReady():
                version, _ = smallest_version(event.text)
                self.say(
                    f"{event.name.capitalize()} ready: {event.payload_bytes} bytes, QR version "
                    f"{version}, candidates {', '.join(event.candidates) or 'none'}"
                )
                print(event.text, file=self.out, flush=True)
            case StateChanged(state=state, pair=pair):
                path = f" ({pair.local} -> {pair.remote})" if pair and pair.local else ""
                self.say(f"state: {state}{path}")
            case CodeReady(code=code):
                self.say(f"verification code: {code[:3]} {code[3:]}")
            case MessageEvent(direction=direction, type=kind, payload=payload):
                arrow = "->" if direction == Direction.OUT else "<-"
                self.say(f"{arrow} {kind} {json.dumps(dict(payload))}")
            case ErrorEvent(code=code, message=message):
                self.say(f"error: {code}: {message}")
            case Closed(reason=reason):
                self.say(f"closed: {reason}")
            case QrWritten(path=path):
                self.say(f"QR image written to {path}")

    def say(self, text: str) -> None:
        print(text, file=self.err, flush=True)
