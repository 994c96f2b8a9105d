"""Frames as the scanner hands them on: PyAV video frames, and the grey pixels decoders read.

A camera, a video file, a stream and a dropped image all arrive through FFmpeg as
`av.VideoFrame`s in their own pixel format (a webcam's MJPEG decodes to YUV). Whoever
needs pixels asks for the layout it wants and FFmpeg's swscale converts in C: decoders
take grey (for YUV that is a copy of the luma plane), the viewfinder takes RGB. PyAV is
in the app anyway (aiortc imports it), so capture needs neither OpenCV nor numpy, and
the bundle is ~190 MB lighter without them (docs/packaging.md).
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
from av.video.reformatter import VideoReformatter

Frame = av.VideoFrame

_INVERT = bytes(range(255, -1, -1))

# One converter per thread. `frame.reformat()` keeps its converter on the frame, and the
# decode thread (grey) and the capture thread (RGB for the viewfinder) convert the same
# frame at once: sharing that one swscale context deadlocked both threads.
_local = threading.local()


def _convert(frame: Frame, fmt: str) -> Frame:
    if frame.format.name == fmt:
        return frame
    reformatter = getattr(_local, "reformatter", None)
    if reformatter is None:
        reformatter = _local.reformatter = VideoReformatter()
    return reformatter.reformat(frame, format=fmt)


@dataclass(frozen=True)
class Grey:
    """8-bit grey pixels, rows packed (`len(data) == width * height`)."""

    width: int
    height: int
    data: bytes

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or len(self.data) != self.width * self.height:
            raise ValueError(
                f"{len(self.data)} bytes are not a {self.width}x{self.height} grey image"
            )

    def view(self) -> memoryview:
        """A (height, width) view: the shape zxing-cpp reads without a copy."""
        return memoryview(self.data).cast("B", (self.height, self.width))

    def inverted(self) -> Grey:
        return Grey(self.width, self.height, self.data.translate(_INVERT))

    def frame(self) -> Frame:
        """A grey frame of these pixels (rendered QR codes, the self-test's video)."""
        # PyAV's VideoFrame.from_bytes has no grey format; the plane is filled directly.
        frame = Frame(self.width, self.height, "gray")
        plane = frame.planes[0]
        stride = plane.line_size
        if stride == self.width:
            plane.update(self.data)
        else:
            padded = bytearray(stride * self.height)
            for y in range(self.height):
                padded[y * stride : y * stride + self.width] = self.data[
                    y * self.width : (y + 1) * self.width
                ]
            plane.update(bytes(padded))
        return frame


def _packed(plane: av.video.plane.VideoPlane, row: int, rows: int) -> bytes:
    """A plane's pixels without the padding FFmpeg may add after each row."""
    data = bytes(plane)
    stride = plane.line_size
    if stride == row:
        return data if len(data) == row * rows else data[: row * rows]
    return b"".join(data[y * stride : y * stride + row] for y in range(rows))


# 8-bit formats whose first plane is luma, full size: what webcams, MJPEG and H.264 give.
# Their grey image is that plane as it is, no conversion (limited-range Y spans 16-235
# rather than 0-255, which neither decoder minds: both threshold locally).
_LUMA_FIRST = frozenset(
    {
        "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
        "yuv440p", "yuvj440p", "yuv411p", "yuv410p", "nv12", "nv21", "nv16", "gray",
    }
)  # fmt: skip


def grey(frame: Frame) -> Grey:
    """The frame's luminance, whatever its pixel format."""
    if not isinstance(frame, Frame):
        raise TypeError(f"a frame is an av.VideoFrame, not {type(frame).__name__}")
    g = frame if frame.format.name in _LUMA_FIRST else _convert(frame, "gray")
    return Grey(g.width, g.height, _packed(g.planes[0], g.width, g.height))


@dataclass(frozen=True)
class Rgb:
    """24-bit RGB pixels, `stride` bytes from one row to the next (what QImage takes)."""

    width: int
    height: int
    stride: int
    data: bytes


def rgb(frame: Frame) -> Rgb:
    """The frame as RGB24 for display."""
    r = _convert(frame, "rgb24")
    plane = r.planes[0]
    return Rgb(r.width, r.height, plane.line_size, bytes(plane))


def read_image(path: str | Path) -> Frame | None:
    """The first picture in an image file (PNG, JPEG, BMP, GIF, WebP, TIFF...), or None.

    The file is handed to FFmpeg as an open file, not a path, so a name with characters
    outside ASCII (a Windows Downloads folder) opens on every platform.
    """
    try:
        with open(path, "rb") as file, av.open(file, mode="r") as container:
            if not container.streams.video:
                return None
            for frame in container.decode(video=0):
                return frame
    except (OSError, av.error.FFmpegError, ValueError):
        return None
    return None


def png_bytes(image: Grey) -> bytes:
    """A PNG of grey pixels (8-bit greyscale, no filter): enough for QR images."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return len(body).to_bytes(4, "big") + kind + body + crc.to_bytes(4, "big")

    rows = b"".join(
        b"\x00" + image.data[y * image.width : (y + 1) * image.width] for y in range(image.height)
    )
    header = (
        image.width.to_bytes(4, "big") + image.height.to_bytes(4, "big") + b"\x08\x00\x00\x00\x00"
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )
