"""Shared synthetic material for the scan tests: built once per session, it is the slow part."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scan_support import (
    EMPTY_FRAMES,
    ENTER_FRAMES,
    HOLD_FRAMES,
    MODERATE,
    VIDEO_FPS,
    scanner_threads,
)
from support import synthetic
from support.synthetic import SyntheticFrame


@pytest.fixture(scope="session")
def answer_text() -> str:
    """An answer-sized text: `QL:` and 108 base-41 characters, QR version 5."""
    text = synthetic.answer_like_text(np.random.default_rng(20260101))
    assert synthetic.qr_version(text) == 5
    return text


@pytest.fixture(scope="session")
def moderate_frames(answer_text: str) -> list[SyntheticFrame]:
    return synthetic.make_frames(answer_text, 40, seed=7, difficulty=MODERATE)


@pytest.fixture(scope="session")
def sequence(answer_text: str) -> list[SyntheticFrame]:
    return synthetic.phone_sequence(
        answer_text,
        seed=11,
        difficulty=0.35,
        empty_frames=EMPTY_FRAMES,
        enter_frames=ENTER_FRAMES,
        hold_frames=HOLD_FRAMES,
    )


@pytest.fixture(scope="session")
def sequence_video(
    sequence: list[SyntheticFrame], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = tmp_path_factory.mktemp("video") / "answer.avi"
    return synthetic.write_video(path, sequence, fps=VIDEO_FPS)


@pytest.fixture(scope="session")
def numbered_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten small frames whose grey level is 20 × their index, to tell frames apart."""
    frames = [np.full((120, 160, 3), 20 * i, np.uint8) for i in range(10)]
    path = tmp_path_factory.mktemp("video") / "numbered.avi"
    return synthetic.write_video(path, frames, fps=50.0)


@pytest.fixture
def no_thread_leak() -> Iterator[None]:
    assert scanner_threads() == [], "a previous test left scanner threads running"
    yield None
    assert scanner_threads() == [], "scanner threads left running"
