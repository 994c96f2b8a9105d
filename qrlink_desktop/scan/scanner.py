"""The scanner: capture and decode on worker threads, results through callbacks.

Two threads, because a camera delivers frames on its own clock and a decode may take
longer than a frame interval:

- the capture thread reads every frame, hands it to the preview callback at the
  camera's rate, and puts it in a one-frame slot for decoding, replacing any frame not
  yet taken (so decoding works on the newest frame and never lags the video);
- the decode thread takes the newest frame, decodes it, and reports detections and,
  after multi-frame confirmation, each accepted code once.

Callbacks run on those worker threads. The GUI wraps them in Qt signals (queued to the
GUI thread); they must be quick and must not call back into the scanner's stop().
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qrlink_desktop.core.errors import ErrorCode, QrlinkError

from .confirm import Confirmer
from .decoders import DEFAULT_DECODER, Decoder, Detection, get_decoder
from .frames import Frame, check_frame, read_image
from .opening import CAMERA_FPS
from .rates import DurationMeter, RateMeter
from .sources import FrameSource, open_source

log = logging.getLogger(__name__)

THREAD_PREFIX = "qrlink-scan"

# An outline older than this no longer sits where the phone is; better none than wrong.
OUTLINE_MAX_AGE = 0.5


@dataclass(frozen=True)
class PreviewFrame:
    """A frame for the viewfinder. Picture and outlines are both as captured: whoever
    shows them mirrors both with one transform when `mirrored` is set, so the outline
    lands on the code whatever the view does to the picture."""

    image: Frame  # BGR as captured; never written to, shared with the decode thread
    detections: tuple[Detection, ...]  # latest decoded codes, in the frame's pixels
    index: int  # frame number from the source, counting from 0
    timestamp: float  # monotonic seconds when it was captured
    mirrored: bool


@dataclass(frozen=True)
class ScanStats:
    capture_fps: float
    decode_fps: float
    decode_ms: float  # median over the recent decodes
    decode_ms_max: float
    frames_captured: int
    frames_decoded: int
    frames_dropped: int  # captured, replaced by a newer frame before it could be decoded


SourceArg = str | int | FrameSource | Callable[[], FrameSource]


class Scanner:
    """Scan a camera, file or stream for QR codes until stopped or the file ends.

    `source` is a spec for `open_source` ("0", a path, a URL), an already open source, or
    a function that opens one; a spec or function is opened on the capture thread, so a
    slow camera never blocks the caller. Failures (cannot open, source lost) arrive
    through `on_error` as QrlinkError, and the scanner stops itself.
    """

    def __init__(
        self,
        source: SourceArg,
        *,
        decoder: str | Decoder = DEFAULT_DECODER,
        confirmer: Confirmer | None = None,
        mirror: bool = False,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = CAMERA_FPS,
        realtime: bool = True,
        loop: bool = False,
        on_preview: Callable[[PreviewFrame], None] | None = None,
        on_detections: Callable[[list[Detection], int], None] | None = None,
        on_code: Callable[[str], None] | None = None,
        on_error: Callable[[QrlinkError], None] | None = None,
        on_stats: Callable[[ScanStats], None] | None = None,
        on_finished: Callable[[], None] | None = None,  # ended by itself: file end or error
        stats_interval: float = 1.0,
        lost_after: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Resolve the decoder now: an unknown or missing decoder is the caller's mistake
        # and deserves an immediate exception, not a callback later.
        self._decoder = get_decoder(decoder) if isinstance(decoder, str) else decoder
        self._source_arg = source
        self._open_args: dict[str, Any] = {
            "width": width,
            "height": height,
            "fps": fps,
            "realtime": realtime,
            "loop": loop,
        }
        self._confirmer = confirmer if confirmer is not None else Confirmer()
        self.mirror = mirror
        self._on_preview = on_preview
        self._on_detections = on_detections
        self._on_code = on_code
        self._on_error = on_error
        self._on_stats = on_stats
        self._on_finished = on_finished
        self._stats_interval = stats_interval
        self._lost_after = lost_after
        self._clock = clock

        self._stop = threading.Event()
        self._finished = threading.Event()
        self._capture_done = False
        # Watched by the decode thread too: a camera driver that stops answering blocks
        # the capture thread inside read(), where it cannot notice it has lost the camera.
        self._reading: FrameSource | None = None  # the open source
        self._last_frame_at = 0.0  # when it last gave a frame (or was opened)
        self._abandoned = threading.Event()  # the capture thread was given up on
        self._slot_lock = threading.Condition()
        self._slot: tuple[int, float, Frame] | None = None
        self._confirm_lock = threading.Lock()
        self._latest: tuple[float, tuple[Detection, ...]] = (0.0, ())
        self._threads: list[threading.Thread] = []

        self._capture_meter = RateMeter()
        self._decode_meter = RateMeter()
        self._durations = DurationMeter()
        self._captured = 0
        self._decoded = 0
        self._dropped = 0

    @property
    def decoder_name(self) -> str:
        return self._decoder.name

    @property
    def notice(self) -> str | None:
        """A sentence about how the decoder runs here (libzbar missing), or None."""
        notice = getattr(self._decoder, "notice", None)
        return notice if isinstance(notice, str) else None

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("a Scanner starts once; make a new one to scan again")
        self._threads = [
            threading.Thread(
                target=self._capture_loop, name=f"{THREAD_PREFIX}-capture", daemon=True
            ),
            threading.Thread(target=self._decode_loop, name=f"{THREAD_PREFIX}-decode", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 3.0) -> bool:
        """Stop both threads and close the source; False if a thread would not end in time.

        A thread stuck in a driver call (a stream that stopped answering) cannot be
        interrupted; it is a daemon thread, ends when the call returns, and never keeps
        the process alive.
        """
        self._stop.set()
        with self._slot_lock:
            self._slot_lock.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            log.warning("scanner threads still running after %.1f s: %s", timeout, stuck)
        return not stuck

    def wait_finished(self, timeout: float | None = None) -> bool:
        """Block until the source has ended (or failed) and the last frame is decoded."""
        return self._finished.wait(timeout)

    def reset(self) -> None:
        """Forget confirmed codes, so the same code can be accepted again (new customer)."""
        with self._confirm_lock:
            self._confirmer.reset()

    def stats(self) -> ScanStats:
        now = self._clock()
        return ScanStats(
            capture_fps=self._capture_meter.rate(now),
            decode_fps=self._decode_meter.rate(now),
            decode_ms=self._durations.median_ms,
            decode_ms_max=self._durations.max_ms,
            frames_captured=self._captured,
            frames_decoded=self._decoded,
            frames_dropped=self._dropped,
        )

    # -- capture thread ------------------------------------------------------------------

    def _open(self) -> FrameSource:
        arg = self._source_arg
        if isinstance(arg, str | int):
            return open_source(arg, **self._open_args)
        if isinstance(arg, FrameSource):
            return arg
        return arg()

    def _capture_loop(self) -> None:
        source: FrameSource | None = None
        try:
            source = self._open()
            self._read_frames(source)
        except QrlinkError as exc:
            if not self._abandoned.is_set():  # else the decode thread has reported it
                self._emit(self._on_error, exc)
        except Exception as exc:
            log.exception("camera capture failed")
            if self._abandoned.is_set():
                return
            self._emit(
                self._on_error,
                QrlinkError(ErrorCode.INVALID_ARGUMENT, f"The camera failed: {exc}"),
            )
        finally:
            if source is not None:
                source.close()
            with self._slot_lock:
                self._capture_done = True
                self._slot_lock.notify_all()

    def _read_frames(self, source: FrameSource) -> None:
        self._last_frame_at = self._clock()
        self._reading = source
        index = 0
        while not self._stop.is_set():
            frame = source.read()
            now = self._clock()
            if self._abandoned.is_set():
                return  # reported lost by the decode thread while read() was stuck
            if frame is None:
                if source.ended:
                    return
                if now - self._last_frame_at > self._lost_after:
                    raise self._lost_error()
                # A live camera sometimes misses a frame; try again shortly.
                self._stop.wait(0.01)
                continue
            self._last_frame_at = now
            self._captured += 1
            self._capture_meter.tick(now)
            self._offer(index, now, frame, wait=not source.live)
            self._preview(index, now, frame)
            index += 1

    def _offer(self, index: int, now: float, frame: Frame, *, wait: bool) -> None:
        with self._slot_lock:
            if wait:
                # A file played as fast as possible: every frame is decoded, none dropped.
                while self._slot is not None and not self._stop.is_set():
                    self._slot_lock.wait(0.1)
            if self._slot is not None:
                self._dropped += 1
            self._slot = (index, now, frame)
            self._slot_lock.notify_all()

    def _preview(self, index: int, now: float, frame: Frame) -> None:
        if self._on_preview is None:
            return
        seen_at, detections = self._latest
        if now - seen_at > OUTLINE_MAX_AGE:
            detections = ()
        self._emit(self._on_preview, PreviewFrame(frame, detections, index, now, self.mirror))

    # -- decode thread -------------------------------------------------------------------

    def _decode_loop(self) -> None:
        last_stats = self._clock()
        try:
            while True:
                with self._slot_lock:
                    while self._slot is None and not self._capture_done and not self._stop.is_set():
                        self._slot_lock.wait(0.1)
                        if self._capture_stuck():
                            self._abandoned.set()
                            self._emit(self._on_error, self._lost_error())
                            return
                    if self._stop.is_set() or self._slot is None:
                        return
                    index, captured_at, frame = self._slot
                    self._slot = None
                    self._slot_lock.notify_all()
                self._decode(index, captured_at, frame)
                now = self._clock()
                if now - last_stats >= self._stats_interval:
                    last_stats = now
                    self._emit(self._on_stats, self.stats())
        finally:
            if not self._stop.is_set() and self._on_stats is not None:
                self._emit(self._on_stats, self.stats())
            if not self._stop.is_set():
                self._emit(self._on_finished)
            self._finished.set()

    def _capture_stuck(self) -> bool:
        """A live source whose read() has not returned for twice `lost_after`: twice, so
        the capture thread's own check (reads that return without a frame) reports first
        whenever it still can."""
        source = self._reading
        return (
            source is not None
            and source.live
            and self._clock() - self._last_frame_at > 2 * self._lost_after
        )

    def _lost_error(self) -> QrlinkError:
        label = self._reading.spec.label if self._reading is not None else "camera"
        return QrlinkError(
            ErrorCode.TIMEOUT,
            f"The {label} stopped sending frames "
            "(unplugged, or taken by another app). "
            "Choose the camera again, or paste the answer instead.",
        )

    def _decode(self, index: int, captured_at: float, frame: Frame) -> None:
        started = time.perf_counter()
        try:
            detections = self._decoder.decode(frame)
        except Exception:
            # One bad frame must not end scanning; the next frame gets a fresh try.
            log.exception("decoder %s failed on frame %d", self._decoder.name, index)
            detections = []
        self._durations.add(time.perf_counter() - started)
        now = self._clock()
        self._decoded += 1
        self._decode_meter.tick(now)
        self._latest = (captured_at, tuple(detections))
        self._emit(self._on_detections, detections, index)
        with self._confirm_lock:
            confirmed = self._confirmer.observe([d.text for d in detections], captured_at)
        for text in confirmed:
            self._emit(self._on_code, text)

    @staticmethod
    def _emit(callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            # A failing receiver must not kill the camera; it is a bug to see in the log.
            log.exception("scanner callback %r failed", callback)


def decode_image(image: Frame, decoders: Sequence[str] | None = None) -> list[Detection]:
    """The QR codes in a picture (an image file's, or one pasted from the clipboard).

    Tries each decoder alone in turn (zxing-cpp, then zbar, with no time budget: there
    is no camera to keep up with) until one finds a code; an empty list when none does.
    """
    check_frame(image)
    for name in decoders if decoders is not None else ("zxing", "pyzbar"):
        try:
            decoder = get_decoder(name)
        except QrlinkError:
            if decoders is not None:
                raise
            continue  # zbar missing here is no reason to fail
        found = decoder.decode(image)
        if found:
            return found
    return []


def decode_image_file(path: str | Path, decoders: Sequence[str] | None = None) -> list[Detection]:
    """The QR codes in an image file (a screenshot or photo of the answer QR).

    An empty list means the image was read but holds no readable code; a QrlinkError if
    it is not an image.
    """
    path = Path(path)
    if not path.is_file():
        raise QrlinkError(
            ErrorCode.INVALID_ARGUMENT, f"Cannot open image file {path}: no such file."
        )
    image = read_image(path)
    if image is None:
        raise QrlinkError(
            ErrorCode.INVALID_ARGUMENT,
            f"Cannot read image file {path}: not an image format we know.",
        )
    return decode_image(image, decoders)
