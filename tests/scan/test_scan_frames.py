"""scan/frames.py: the frame conversions the app uses instead of OpenCV and numpy."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from qrlink_desktop.scan import frames, qrimage
from qrlink_desktop.scan.synthetic import to_frame, to_image


@pytest.mark.parametrize("width", [1280, 174, 31])  # 174 and 31: rows padded in the frame
def test_grey_and_back_keep_every_pixel(width: int) -> None:
    pixels = np.random.default_rng(width).integers(0, 256, (23, width), dtype=np.uint8)
    grey = frames.grey(to_frame(pixels))
    assert (grey.width, grey.height) == (width, 23)
    assert grey.data == pixels.tobytes()
    back = grey.frame()
    assert (back.to_ndarray() == pixels).all()
    assert grey.inverted().data == (255 - pixels).tobytes()


def test_grey_of_colour_is_its_luma() -> None:
    bgr = np.zeros((8, 8, 3), np.uint8)
    bgr[:, :4] = (255, 255, 255)
    grey = np.frombuffer(frames.grey(to_frame(bgr)).data, np.uint8).reshape(8, 8)
    assert (grey[:, :4] > 250).all() and (grey[:, 4:] < 5).all()


@pytest.mark.parametrize("fmt", ["yuv420p", "yuvj422p", "nv12"])
def test_grey_of_a_cameras_yuv_is_its_luma_plane_as_it_is(fmt: str) -> None:
    # No conversion for what webcams deliver: the decoder reads the Y plane itself.
    bgr = np.random.default_rng(2).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    frame = to_frame(bgr).reformat(format=fmt)
    assert frames.grey(frame).data == bytes(frame.planes[0])[: 64 * 48]


def test_rgb_has_the_colours_in_rgb_order() -> None:
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[:] = (10, 20, 30)
    rgb = frames.rgb(to_frame(bgr))
    assert rgb.stride >= 15 and rgb.data[:3] == bytes([30, 20, 10])


@pytest.mark.parametrize(
    ("width", "height", "data"), [(2, 2, b"\x00" * 3), (0, 1, b""), (2, 2, b"\x00" * 5)]
)
def test_grey_refuses_the_wrong_number_of_bytes(width: int, height: int, data: bytes) -> None:
    with pytest.raises(ValueError):
        frames.Grey(width, height, data)


def test_png_is_a_png_every_reader_reads(tmp_path: Path) -> None:
    path = qrimage.write_png("QL:HELLO", tmp_path / "a.png", scale=3)
    ours = frames.read_image(path)
    assert ours is not None
    theirs = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert theirs is not None
    assert (ours.to_ndarray(format="gray") == theirs).all()
    assert set(np.unique(theirs)) == {0, 255}


@pytest.mark.parametrize("content", [b"", b"not an image", b"\x89PNG\r\n\x1a\n broken"])
def test_read_image_of_junk_is_none(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(content)
    assert frames.read_image(path) is None
    assert frames.read_image(tmp_path / "missing.png") is None


def test_two_threads_convert_one_frame_at_once() -> None:
    # The decode thread (grey) and the viewfinder (RGB) convert the same frame together;
    # with PyAV's per-frame converter this deadlocked.
    frame = to_frame(np.random.default_rng(1).integers(0, 256, (720, 1280, 3), dtype=np.uint8))
    frame = frame.reformat(format="yuvj422p")
    done: list[str] = []

    def work(convert: str) -> None:
        for _ in range(200):
            frames.grey(frame) if convert == "grey" else frames.rgb(frame)
        done.append(convert)

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in ("grey", "rgb")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(done) == ["grey", "rgb"]
    assert to_image(frame).shape == (720, 1280, 3)
