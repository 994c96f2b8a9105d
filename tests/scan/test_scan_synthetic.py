from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from scan_support import EMPTY_FRAMES, ENTER_FRAMES, HOLD_FRAMES
from support import synthetic
from support.synthetic import SyntheticFrame

from qrlink_desktop.core import alnum, bootstrap


def test_answer_like_text_has_the_real_answer_shape() -> None:
    # The alphabet and prefix are the codec's own, not copies that could drift apart.
    assert synthetic.ANSWER_ALPHABET is alnum.ALPHABET
    assert synthetic.ANSWER_PREFIX is bootstrap.ANSWER_PREFIX
    text = synthetic.answer_like_text(np.random.default_rng(1))
    assert len(text) == 111 and text.startswith("QL:")
    assert set(text[3:]) <= set(synthetic.ANSWER_ALPHABET)
    assert len(synthetic.ANSWER_ALPHABET) == 41
    assert synthetic.qr_version(text) == 5


@pytest.mark.parametrize("version", [5, 6, 10, 13])
def test_text_for_version_fills_that_version(version: int) -> None:
    text = synthetic.text_for_version(version, np.random.default_rng(version))
    assert synthetic.qr_version(text) == version
    assert synthetic.qr_version(text + "X") == version + 1


@pytest.mark.parametrize("version", [0, 41])
def test_text_for_version_refuses_versions_that_do_not_exist(version: int) -> None:
    with pytest.raises(ValueError):
        synthetic.text_for_version(version, np.random.default_rng(0))


def test_qr_modules_include_the_quiet_zone() -> None:
    modules = synthetic.qr_modules("QL:ABC")
    assert modules.shape == (21 + 8, 21 + 8)  # version 1 plus four modules each side
    assert not modules[:4].any() and not modules[:, -4:].any()
    assert modules[4, 4]  # the top-left finder pattern starts right after it
    assert not modules.flags.writeable  # cached and shared


def test_render_qr_scales_modules() -> None:
    image = synthetic.render_qr("QL:ABC", module_px=3)
    assert image.shape == (29 * 3, 29 * 3) and image.dtype == np.uint8
    assert set(np.unique(image)) == {0, 255}


@pytest.mark.parametrize("difficulty", [0.0, 0.5, 1.0])
def test_frames_are_720p_with_the_code_inside(difficulty: float) -> None:
    frame = synthetic.make_frame("QL:ABC", np.random.default_rng(4), difficulty)
    assert frame.image.shape == (720, 1280, 3) and frame.image.dtype == np.uint8
    assert frame.qr_corners is not None and frame.text == "QL:ABC"
    xs, ys = frame.qr_corners[:, 0], frame.qr_corners[:, 1]
    assert xs.min() >= 0 and xs.max() < 1280 and ys.min() >= 0 and ys.max() < 720


def test_harder_frames_show_smaller_codes() -> None:
    def mean_side(difficulty: float) -> float:
        frames = synthetic.make_frames("QL:ABC", 6, seed=2, difficulty=difficulty, rooms=1)
        return float(
            np.mean([np.linalg.norm(f.qr_corners[1] - f.qr_corners[0]) for f in frames])  # type: ignore[index]
        )

    assert mean_side(1.0) < mean_side(0.0)


def test_same_seed_same_frames_different_seed_different_frames() -> None:
    a = synthetic.make_frames("QL:ABC", 2, seed=5)
    b = synthetic.make_frames("QL:ABC", 2, seed=5)
    c = synthetic.make_frames("QL:ABC", 2, seed=6)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0].image, c[0].image)


def test_difficulty_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError):
        synthetic.make_frame("QL:ABC", np.random.default_rng(0), 1.5)


def test_sequence_shows_the_room_then_a_shaking_phone(sequence: list[SyntheticFrame]) -> None:
    assert len(sequence) == EMPTY_FRAMES + ENTER_FRAMES + HOLD_FRAMES
    assert all(f.qr_corners is None and f.text is None for f in sequence[:EMPTY_FRAMES])
    held = [f.qr_corners for f in sequence[-HOLD_FRAMES:]]
    assert all(c is not None for c in held)
    steps = [
        float(np.abs(b - a).max())  # type: ignore[operator]
        for a, b in pairwise(held)
    ]
    assert max(steps) < 40  # a hand wobbles...
    assert np.mean(steps) > 0.5  # ...but is never perfectly still
    # The empty room is the same room, frame to frame, apart from sensor noise.
    a, b = (f.image.astype(int) for f in sequence[:2])
    assert 0 < np.abs(a - b).mean() < 6


def test_write_video_refuses_no_frames_and_mixed_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        synthetic.write_video(tmp_path / "a.avi", [])
    frames = [np.zeros((10, 10, 3), np.uint8), np.zeros((12, 10, 3), np.uint8)]
    with pytest.raises(ValueError):
        synthetic.write_video(tmp_path / "b.avi", frames)


def test_write_video_accepts_grey_frames(tmp_path: Path) -> None:
    path = synthetic.write_video(tmp_path / "grey.avi", [np.zeros((16, 16), np.uint8)] * 3)
    assert path.stat().st_size > 0
