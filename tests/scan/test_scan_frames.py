"""scan/frames.py: frames as numpy arrays, their grey plane, and image files read by OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from qrlink_desktop.scan import frames, qrimage


def test_grey_of_a_grey_frame_is_the_frame_itself() -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (23, 31), dtype=np.uint8)
    assert frames.grey(pixels) is pixels  # no copy for what is grey already


def test_grey_of_a_view_is_packed() -> None:
    pixels = np.random.default_rng(2).integers(0, 256, (20, 40), dtype=np.uint8)
    view = pixels[:, ::2]  # every other column: not contiguous
    grey = frames.grey(view)
    assert grey.flags.c_contiguous and (grey == view).all()


def test_grey_of_colour_is_its_luma() -> None:
    bgr = np.zeros((8, 8, 3), np.uint8)
    bgr[:, :4] = (255, 255, 255)
    bgr[:, 4:] = (255, 0, 0)  # pure blue is dark: luma 29
    grey = frames.grey(bgr)
    assert grey.shape == (8, 8)
    assert (grey[:, :4] == 255).all() and (grey[:, 4:] == 29).all()


def test_grey_of_bgra_and_single_channel() -> None:
    bgra = np.zeros((4, 4, 4), np.uint8)
    bgra[..., :3] = 200
    assert (frames.grey(bgra) == 200).all()
    one = np.full((4, 4, 1), 7, np.uint8)
    assert frames.grey(one).shape == (4, 4) and (frames.grey(one) == 7).all()


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((4, 4), np.float32),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((0, 4), np.uint8),
        b"\x00" * 16,
        None,
    ],
)
def test_what_is_not_a_frame_is_refused(frame: object) -> None:
    with pytest.raises(TypeError, match="a frame is a uint8 numpy array"):
        frames.grey(frame)  # type: ignore[arg-type]


def test_png_we_write_is_one_every_reader_reads(tmp_path: Path) -> None:
    path = qrimage.write_png("QL:HELLO", tmp_path / "a.png", scale=3)
    ours = frames.read_image(path)
    assert ours is not None and ours.ndim == 2
    with Image.open(path) as image:
        theirs = np.asarray(image.convert("L"))
    assert (ours == theirs).all()
    assert set(np.unique(theirs)) == {0, 255}
    assert (ours == qrimage.render_grey("QL:HELLO", scale=3)).all()


@pytest.mark.parametrize("content", [b"", b"not an image", b"\x89PNG\r\n\x1a\n broken"])
def test_read_image_of_junk_is_none(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(content)
    assert frames.read_image(path) is None
    assert frames.read_image(tmp_path / "missing.png") is None
    assert frames.read_image(tmp_path) is None  # a folder


def test_transparent_screenshot_is_laid_over_white(tmp_path: Path) -> None:
    # A dark code on a see-through background must not come out dark on dark.
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[:5, :, 3] = 255  # top half: opaque black; bottom half: transparent
    path = tmp_path / "clip.png"
    assert cv2.imwrite(str(path), rgba)
    image = frames.read_image(path)
    assert image is not None and image.shape == (10, 10, 3)
    assert (image[:5] == 0).all() and (image[5:] == 255).all()


def test_sixteen_bit_image_is_scaled_to_eight(tmp_path: Path) -> None:
    deep = np.full((6, 6), 65535, np.uint16)
    deep[:3] = 0
    path = tmp_path / "deep.png"
    assert cv2.imwrite(str(path), deep)
    image = frames.read_image(path)
    assert image is not None and image.dtype == np.uint8
    assert (image[:3] == 0).all() and (image[3:] == 255).all()


def test_decode_image_from_bytes_in_memory() -> None:
    ok, encoded = cv2.imencode(".jpg", np.full((16, 24, 3), 128, np.uint8))
    assert ok
    image = frames.decode_image(encoded.tobytes())
    assert image is not None and image.shape == (16, 24, 3)
    assert abs(int(image.mean()) - 128) <= 2
    assert frames.decode_image(b"") is None
