from __future__ import annotations

import importlib

import cv2
import numpy as np
import pytest
from support import synthetic
from support.synthetic import SyntheticFrame

from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.scan import decoders
from qrlink_desktop.scan.decoders import (
    DEFAULT_DECODER,
    Decoder,
    Detection,
    PyzbarDecoder,
    TimeBudget,
    ZxingThenPyzbar,
    available_decoders,
    get_decoder,
)

NAMES = ["zxing+pyzbar", "zxing", "pyzbar"]
MODULE_PX = 8
BORDER = synthetic.QUIET_ZONE * MODULE_PX


def test_pyzbar_and_libzbar_are_installed() -> None:
    # Not skipped when missing: the app runs pyzbar in every scan, so say so loudly.
    assert available_decoders() == ["zxing+pyzbar", "zxing", "pyzbar"]
    assert DEFAULT_DECODER == "zxing+pyzbar"
    combined = get_decoder()
    assert isinstance(combined, ZxingThenPyzbar)
    assert combined.pyzbar is not None and combined.notice is None


@pytest.mark.parametrize("name", NAMES)
def test_decoders_satisfy_the_protocol(name: str) -> None:
    decoder = get_decoder(name)
    assert isinstance(decoder, Decoder)
    assert decoder.name == name


def test_names_ignore_case_and_spaces() -> None:
    assert get_decoder(" ZXing ").name == "zxing"


def test_unknown_decoder_is_a_clear_error() -> None:
    with pytest.raises(QrlinkError) as caught:
        get_decoder("quirc")
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert "zxing+pyzbar, zxing, pyzbar" in caught.value.message


def _without_zbar(monkeypatch: pytest.MonkeyPatch) -> None:
    # What pyzbar raises on import on a machine without libzbar.
    real = importlib.import_module

    def import_module(name: str, package: str | None = None) -> object:
        if name.startswith("pyzbar"):
            raise ImportError("Unable to find zbar shared library")
        return real(name, package)

    monkeypatch.setattr(decoders.importlib, "import_module", import_module)


def test_missing_libzbar_is_a_clear_error_for_pyzbar_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_zbar(monkeypatch)
    with pytest.raises(QrlinkError) as caught:
        get_decoder("pyzbar")
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert "libzbar0" in caught.value.message and "zxing" in caught.value.message
    assert available_decoders() == ["zxing+pyzbar", "zxing"]


def test_missing_libzbar_leaves_the_default_on_zxing_with_one_sentence(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, answer_text: str
) -> None:
    _without_zbar(monkeypatch)
    combined = get_decoder()
    assert isinstance(combined, ZxingThenPyzbar) and combined.pyzbar is None
    assert combined.notice is not None and "apt install libzbar0" in combined.notice
    assert combined.notice.count(".") == 1  # one sentence
    assert combined.notice in caplog.text
    image = synthetic.render_qr(answer_text, module_px=MODULE_PX)
    assert [d.text for d in combined.decode(image)] == [answer_text]
    assert combined.decode(np.full((50, 50), 255, np.uint8)) == []
    assert (combined.passes, combined.skipped) == (0, 0)


def _expected_corners(text: str) -> np.ndarray:
    n = synthetic.qr_modules(text, border=0).shape[0]
    a, b = BORDER, BORDER + n * MODULE_PX
    return np.array([[a, a], [b, a], [b, b], [a, b]], float)


def _assert_corners_near(detection: Detection, expected: np.ndarray, tolerance: float) -> None:
    got = np.array(detection.corners)
    # Decoders may start the outline at another corner; compare as sets of points.
    for point in expected:
        assert np.min(np.linalg.norm(got - point, axis=1)) <= tolerance, (got, expected)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("colour", ["grey", "bgr", "bgra"])
def test_decodes_a_clean_render_with_its_corners(name: str, colour: str, answer_text: str) -> None:
    # Grey as images open; BGR as OpenCV captures; BGRA as a screenshot may come.
    image = synthetic.render_qr(answer_text, module_px=MODULE_PX)
    conversion = {"bgr": cv2.COLOR_GRAY2BGR, "bgra": cv2.COLOR_GRAY2BGRA}.get(colour)
    frame = image if conversion is None else cv2.cvtColor(image, conversion)
    [found] = get_decoder(name).decode(frame)
    assert found.text == answer_text
    _assert_corners_near(found, _expected_corners(answer_text), tolerance=1.5 * MODULE_PX)


@pytest.mark.parametrize("name", NAMES)
def test_decodes_light_on_dark(name: str, answer_text: str) -> None:
    # A phone in dark mode may show the code inverted.
    image = 255 - synthetic.render_qr(answer_text, module_px=MODULE_PX)
    assert [d.text for d in get_decoder(name).decode(image)] == [answer_text]


@pytest.mark.parametrize("name", NAMES)
def test_decodes_mirrored_with_corners_in_the_given_frame(name: str, answer_text: str) -> None:
    # A selfie camera flips the image; the outline must still land on the code.
    image = synthetic.render_qr(answer_text, module_px=MODULE_PX)
    pad = np.full((image.shape[0], 200), 255, np.uint8)
    image = np.ascontiguousarray(np.hstack([image, pad])[:, ::-1])
    [found] = get_decoder(name).decode(image)
    assert found.text == answer_text
    expected = _expected_corners(answer_text)
    expected[:, 0] = image.shape[1] - expected[:, 0]
    _assert_corners_near(found, expected, tolerance=1.5 * MODULE_PX)


@pytest.mark.parametrize("name", NAMES)
def test_finds_two_codes_in_one_frame(name: str) -> None:
    left = synthetic.render_qr("QL:LEFT", module_px=6)
    right = synthetic.render_qr("QL:RIGHT", module_px=6)
    image = np.hstack([left, right])
    found = get_decoder(name).decode(image)
    assert sorted(d.text for d in found) == ["QL:LEFT", "QL:RIGHT"]


@pytest.mark.parametrize("name", NAMES)
def test_finds_nothing_in_an_empty_room(name: str) -> None:
    room = synthetic.phone_sequence("QL:X", seed=3, empty_frames=3, enter_frames=0, hold_frames=0)
    for frame in room:
        assert get_decoder(name).decode(frame.image) == []


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "frame",
    [np.zeros((10, 10), np.float32), b"\x00" * 100, None],
)
def test_refuses_what_is_not_a_frame(name: str, frame: object) -> None:
    with pytest.raises(TypeError, match="a frame is a uint8 numpy array"):
        get_decoder(name).decode(frame)  # type: ignore[arg-type]


def _success(name: str, frames: list[SyntheticFrame], text: str) -> float:
    decoder = get_decoder(name)
    return sum(any(d.text == text for d in decoder.decode(f.image)) for f in frames) / len(frames)


def test_zxing_reads_moderate_webcam_frames(
    moderate_frames: list[SyntheticFrame], answer_text: str
) -> None:
    # Measured 100 % on this seeded set; 95 % leaves room for one unlucky frame in 40.
    assert _success("zxing", moderate_frames, answer_text) >= 0.95


def test_pyzbar_reads_moderate_webcam_frames(
    moderate_frames: list[SyntheticFrame], answer_text: str
) -> None:
    assert _success("pyzbar", moderate_frames, answer_text) >= 0.85


@pytest.mark.parametrize("name", NAMES)
def test_corners_lie_in_the_frame_around_the_code(
    name: str, moderate_frames: list[SyntheticFrame], answer_text: str
) -> None:
    decoder = get_decoder(name)
    checked = 0
    for frame in moderate_frames[:15]:
        assert frame.qr_corners is not None
        height, width = frame.image.shape[:2]
        truth = frame.qr_corners.astype(np.float32)
        side = float(np.linalg.norm(truth[1] - truth[0]))
        for found in decoder.decode(frame.image):
            assert found.text == answer_text
            for x, y in found.corners:
                assert 0 <= x < width and 0 <= y < height
            assert cv2.pointPolygonTest(truth, found.center, measureDist=False) > 0
            _assert_corners_near(found, truth, tolerance=0.12 * side)
            checked += 1
    assert checked >= 12


def test_detection_center() -> None:
    d = Detection("A", ((10.0, 20.0), (30.0, 20.0), (30.0, 40.0), (10.0, 40.0)))
    assert d.center == (20.0, 30.0)


def test_pyzbar_inverted_retry_is_what_reads_light_on_dark(answer_text: str) -> None:
    image = 255 - synthetic.render_qr(answer_text, module_px=MODULE_PX)
    assert PyzbarDecoder(try_inverted=False).decode(image) == []
    assert [d.text for d in PyzbarDecoder(try_inverted=True).decode(image)] == [answer_text]


@pytest.mark.parametrize("seed", range(20))
def test_min_area_rect_matches_opencv(seed: int) -> None:
    # zbar sometimes reports a hull of more than four points; the outline is the smallest
    # rectangle around it, as OpenCV's minAreaRect finds it.
    rng = np.random.default_rng(seed)
    points = [(float(x), float(y)) for x, y in rng.uniform(0, 500, (int(rng.integers(3, 9)), 2))]
    ours = np.array(decoders.min_area_rect(points), np.float32)
    theirs = cv2.boxPoints(cv2.minAreaRect(np.array(points, np.float32)))
    assert cv2.contourArea(ours) == pytest.approx(cv2.contourArea(theirs), rel=1e-3)
    for x, y in points:  # every point inside (or on) the rectangle
        assert cv2.pointPolygonTest(ours, (x, y), measureDist=True) >= -0.01
    # (Corners may differ: a triangle can have two smallest rectangles of one area.)


# -- the default: zxing-cpp, then pyzbar on the same grey frame -------------------------------


class _Ticks:
    """A clock that moves only when told (camera frames, or a zbar pass's cost)."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_pyzbar_reads_on_the_same_frame_what_zxing_missed() -> None:
    # Hard webcam frames of an answer-sized code (benchmarks/decode_bench.py's seeds):
    # on some, zbar reads what zxing-cpp does not; the default must get every one of them.
    text = synthetic.answer_like_text(np.random.default_rng(5))
    frames = synthetic.make_frames(text, 24, seed=1005, difficulty=0.8)
    zxing, zbar = get_decoder("zxing"), PyzbarDecoder(try_inverted=False)
    combined = ZxingThenPyzbar(clock=_Ticks(step=1.0))  # a second between frames: no limit
    by_zxing = [any(d.text == text for d in zxing.decode(f.image)) for f in frames]
    by_zbar = [any(d.text == text for d in zbar.decode(f.image)) for f in frames]
    by_both = [any(d.text == text for d in combined.decode(f.image)) for f in frames]
    assert by_both == [a or b for a, b in zip(by_zxing, by_zbar, strict=True)]
    only_zbar = sum(b and not a for a, b in zip(by_zxing, by_zbar, strict=True))
    assert only_zbar >= 1  # measured: frame 23 of this set
    assert combined.rescued == only_zbar
    assert combined.passes == by_zxing.count(False)  # zbar saw exactly zxing's misses
    assert combined.skipped == 0


def test_zbar_is_not_run_where_zxing_found_the_code(answer_text: str) -> None:
    combined = ZxingThenPyzbar()
    image = synthetic.render_qr(answer_text, module_px=MODULE_PX)
    assert [d.text for d in combined.decode(image)] == [answer_text]
    assert combined.passes == 0


def test_zbar_stays_within_its_share_of_the_camera_time() -> None:
    # Frames 1/30 s apart; each zbar pass costs 25 ms by the timer. Half the time is
    # 16.7 ms a frame, so after the carried-over 60 ms is used up zbar runs on two
    # frames in three, and never on more than half the time.
    room = np.full((120, 160), 128, np.uint8)  # nothing for zxing-cpp to find
    camera = _Ticks(step=1 / 30)
    timer = _Ticks(step=0.025)  # a pass reads it twice: 25 ms apart
    combined = ZxingThenPyzbar(share=0.5, burst=0.06, clock=camera, timer=timer)
    ran = []
    for _ in range(90):
        before = combined.passes
        assert combined.decode(room) == []
        ran.append(combined.passes > before)
    assert ran[:3] == [True, True, True]  # the carried-over budget
    assert combined.passes + combined.skipped == 90
    assert 0.025 * combined.passes <= 0.5 * 90 / 30 + 0.06
    assert sum(ran[30:60]) == 20  # steady: two frames in three


def test_time_budget_refills_at_its_share_and_caps_the_carry_over() -> None:
    clock = _Ticks()
    budget = TimeBudget(0.5, 0.06, clock)
    assert budget.allows()
    budget.spend(0.1)  # a slow pass overdraws
    assert not budget.allows()
    clock.now += 0.07  # 35 ms of credit back: still 5 ms short
    assert not budget.allows()
    clock.now += 0.02
    assert budget.allows()
    clock.now += 100.0  # an idle minute earns no more than the carry-over
    budget.allows()
    budget.spend(0.061)
    assert not budget.allows()
    with pytest.raises(ValueError):
        TimeBudget(0.0, 0.06)
