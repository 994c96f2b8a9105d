"""Diagnostics: one record per pairing (an answer that was scanned, pasted or opened),
with the session's timings, the path and the outcome; running counts; export as JSON.

`PairingLog` is plain data fed from the session's typed events; `DiagnosticsPanel`
shows it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import ErrorCode
from ..core.events import Closed, CodeReady, ErrorEvent, OfferReady, StateChanged
from ..core.session import State
from .cashier import AnswerScanned, AnswerUnusable, WindowEvent

# Session timing keys (rtc/session.py, rtc/peer.py) in the order a pairing goes through them.
TIMING_COLUMNS = (
    ("offer_ready_ms", "Offer ready"),
    ("answer_scanned_ms", "Answer scanned"),
    ("ice_connected_ms", "ICE"),
    ("dtls_connected_ms", "DTLS"),
    ("channel_open_ms", "Channel"),
    ("handshake_ms", "Handshake"),
)


@dataclass
class Pairing:
    started_at: float  # wall clock, when the answer arrived
    source: str  # network (sent home by the page), camera, paste, image or remote
    timings: dict[str, float] = field(default_factory=dict)
    path: str | None = None  # host, srflx, prflx or relay (local candidate of the pair)
    remote: str | None = None
    outcome: str = "connecting"  # connecting, success, or an error code

    @property
    def relayed(self) -> bool:
        return "relay" in (self.path, self.remote)


class PairingLog:
    def __init__(self) -> None:
        self.pairings: list[Pairing] = []
        self._offer_ready_ms: float | None = None
        self._offer_shown_at: float | None = None
        # Answer requests the page server refused (forged, replayed, expired, oversize,
        # malformed, over the rate limit), by error code; their bodies are never kept.
        self.refused: Counter[str] = Counter()

    def on_refused(self, code: str) -> None:
        self.refused[code] += 1

    @property
    def current(self) -> Pairing | None:
        if self.pairings and self.pairings[-1].outcome == "connecting":
            return self.pairings[-1]
        return None

    def on_event(self, event: WindowEvent, now: float | None = None) -> None:
        """Feed every session event (and the controller's AnswerScanned, AnswerUnusable)."""
        now = time.monotonic() if now is None else now
        if isinstance(event, OfferReady):
            self._offer_ready_ms = event.ready_ms
            self._offer_shown_at = now
            return
        if isinstance(event, AnswerScanned):
            begun = Pairing(time.time(), event.source)
            if self._offer_ready_ms is not None:
                begun.timings["offer_ready_ms"] = self._offer_ready_ms
            if self._offer_shown_at is not None:
                begun.timings["answer_scanned_ms"] = (now - self._offer_shown_at) * 1000
            self.pairings.append(begun)
            return
        pairing = self.current
        if pairing is None:
            return
        match event:
            case AnswerUnusable(code=ErrorCode.BOOTSTRAP_PARSE_FAILED):
                # An unreadable answer leaves the offer waiting: not a pairing after all.
                self.pairings.pop()
            case AnswerUnusable(code=code):
                pairing.outcome = str(code)
            case StateChanged(state=State.CONNECTED, pair=pair) if pair is not None:
                pairing.path, pairing.remote = pair.local, pair.remote
            case CodeReady(timings=timings):
                for key, value in timings.items():
                    if key != "offer_ready_ms":
                        pairing.timings[key] = float(value)
                pairing.outcome = "success"
            case ErrorEvent(code=code):
                pairing.outcome = str(code)
            case Closed() | StateChanged(state=State.FAILED | State.CLOSED):
                pairing.outcome = "CONNECTION_FAILED"

    def summary(self) -> dict[str, Any]:
        done = [p for p in self.pairings if p.outcome != "connecting"]
        ok = [p for p in done if p.outcome == "success"]
        relayed = sum(1 for p in ok if p.relayed)
        return {
            "pairings": len(done),
            "successes": len(ok),
            "failures": len(done) - len(ok),
            "relayShare": relayed / len(ok) if ok else 0.0,
            "answersRefused": dict(self.refused),
        }

    def to_json(self) -> str:
        return json.dumps(
            {"summary": self.summary(), "pairings": [asdict(p) for p in self.pairings]},
            indent=2,
        )


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.1f} s" if value >= 10_000 else f"{value:.1f} ms"


class DiagnosticsPanel(QWidget):
    def __init__(self, log: PairingLog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.log = log
        headers = ["Time", "Source", *(title for _, title in TIMING_COLUMNS), "Path", "Outcome"]
        self.table = QTableWidget(0, len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.summary = QLabel()
        self.export_button = QPushButton("Export JSON…")
        self.export_button.clicked.connect(self.export)
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        row.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        self.refresh()

    def refresh_summary(self) -> None:
        """The counts line only: cheap enough for every refused request of a flood."""
        s = self.log.summary()
        refused = sum(s["answersRefused"].values())
        self.summary.setText(
            f"Pairings: {s['pairings']}   succeeded: {s['successes']}   "
            f"failed: {s['failures']}   relayed: {s['relayShare']:.0%}"
            + (f"   answers refused: {refused}" if refused else "")
        )
        codes = ", ".join(f"{code} {n}" for code, n in sorted(s["answersRefused"].items()))
        self.summary.setToolTip(f"Refused answer requests: {codes}" if codes else "")

    def refresh_after(self, event: WindowEvent) -> None:
        """Redraw the table after what can change a pairing's row."""
        if isinstance(
            event, AnswerScanned | AnswerUnusable | CodeReady | ErrorEvent | Closed | StateChanged
        ):
            self.refresh()

    def refresh(self) -> None:
        pairings = self.log.pairings
        self.table.setRowCount(len(pairings))
        for r, p in enumerate(reversed(pairings)):  # newest first
            cells = [
                time.strftime("%H:%M:%S", time.localtime(p.started_at)),
                p.source,
                *(_ms(p.timings.get(key)) for key, _ in TIMING_COLUMNS),
                "—" if p.path is None else f"{p.path} → {p.remote}",
                p.outcome,
            ]
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.refresh_summary()

    def export(self, path: str | None = None) -> Path | None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export diagnostics", "qrlink-diagnostics.json", "JSON (*.json)"
            )
        if not path:
            return None
        out = Path(path)
        out.write_text(self.log.to_json(), encoding="utf-8")
        return out
