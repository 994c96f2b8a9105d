"""Frames as the scanner hands them on: numpy arrays, as OpenCV captures and decodes them.

A camera, a video file and a stream (`cv2.VideoCapture`) and an image file
(`cv2.imdecode`) all give a BGR uint8 array of shape (height, width, 3); a grey picture
is (height, width). The decoders read the grey plane (`grey`); the viewfinder shows the
BGR array as it is (gui/camera.py wraps it in a QImage without copying it). A frame is
never written to after capture, so the capture, decode and GUI threads share it freely.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .imaging import cv2, np

if TYPE_CHECKING:
    # A uint8 array, (height, width, 3) BGR or (height, width) grey; `check_frame` says.
    Frame = np.ndarray
else:
    Frame = "numpy.ndarray"  # in annotations only: numpy is imported at the first frame

# Screenshots of the answer QR with a transparent background would otherwise turn black
# where they are see-through, and the code would vanish into its own background.
_WHITE = 255.0


def check_frame(frame: Any) -> Frame:
    """The frame itself if it is one (uint8, grey or BGR/BGRA); a TypeError otherwise."""
    if (
        not isinstance(frame, np.ndarray)
        or frame.dtype != np.uint8
        or not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (1, 3, 4)))
        or frame.size == 0
    ):
        shape = getattr(frame, "shape", None)
        dtype = getattr(frame, "dtype", None)
        raise TypeError(
            "a frame is a uint8 numpy array of shape (h, w) or (h, w, 3), "
            f"not {type(frame).__name__} {shape or ''} {dtype or ''}".rstrip()
        )
    return frame


def grey(frame: Frame) -> Frame:
    """The frame's luminance as a (height, width) uint8 array, rows contiguous."""
    frame = check_frame(frame)
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    channels = frame.shape[2]
    if channels == 1:
        return np.ascontiguousarray(frame[:, :, 0])
    code = cv2.COLOR_BGR2GRAY if channels == 3 else cv2.COLOR_BGRA2GRAY
    return cv2.cvtColor(frame, code)


def decode_image(data: bytes | np.ndarray) -> Frame | None:
    """The picture in an encoded image (PNG, JPEG, GIF, BMP, WebP, TIFF...), or None.

    8-bit grey or BGR whatever the file holds: 16-bit images are scaled down, and an
    alpha channel is laid over white, as an image viewer shows it.
    """
    buffer = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else data
    if buffer.size == 0:
        return None
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    if image is None or image.size == 0:
        return None
    if image.dtype == np.uint16:
        image = cv2.convertScaleAbs(image, alpha=255.0 / 65535.0)
    elif image.dtype != np.uint8:  # floating point (HDR, some TIFFs), 0..1
        image = cv2.convertScaleAbs(image, alpha=255.0)
    if image.ndim == 3 and image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        image = cv2.convertScaleAbs(image[:, :, :3] * alpha + _WHITE * (1.0 - alpha))
    elif image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return np.ascontiguousarray(image)


def read_image(path: str | Path) -> Frame | None:
    """The picture in an image file, or None when it is missing or not an image.

    The bytes are read by Python and decoded from memory, so a name with characters
    outside ASCII (a Windows Downloads folder) opens on every platform, which
    `cv2.imread` does not.
    """
    try:
        data = np.fromfile(str(path), np.uint8)
    except (OSError, ValueError):
        return None
    return decode_image(data)


def png_bytes(image: Frame) -> bytes:
    """A lossless PNG of a grey or BGR frame (QR images for `--qr-png`)."""
    ok, encoded = cv2.imencode(".png", check_frame(image))
    if not ok:
        raise ValueError("OpenCV could not encode the image as PNG")
    return encoded.tobytes()
