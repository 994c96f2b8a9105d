"""Helpers the scan tests share (a uniquely named module: tests/ has no packages)."""

from __future__ import annotations

import threading

import numpy as np

from qrlink_desktop.scan.scanner import THREAD_PREFIX

MODERATE = 0.5
VIDEO_FPS = 30.0
EMPTY_FRAMES = 12
ENTER_FRAMES = 8
HOLD_FRAMES = 30


def frame_number(frame: np.ndarray | None) -> int | None:
    """The index of a frame of the numbered video (grey level 20 × index)."""
    return None if frame is None else round(float(frame.mean()) / 20.0)


def scanner_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]
