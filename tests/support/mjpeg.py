"""An IP camera on 127.0.0.1: Motion JPEG over HTTP, as cheap network cameras and phone
webcam apps serve it (one multipart response, a JPEG per part).

The scanner opens it as a stream URL through OpenCV's FFmpeg backend, exactly as it would
open `http://10.0.0.9:8080/video.mjpg` in a shop. Frames are sent at the given rate
(paced against the clock, so a 30 fps clip plays in real time); after the last one the
camera hangs up, or with `stall` keeps the connection open and silent until closed, as a
camera that froze would.
"""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    camera: MjpegCamera

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup that stalls with no resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    server: _QuietServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        camera = self.server.camera
        camera.clients += 1
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        started = time.monotonic()
        try:
            for i, jpeg in enumerate(camera.jpegs):
                due = started + i / camera.fps
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
                head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
                camera.sent += 1
            if camera.stall:
                self.wfile.flush()
                camera.released.wait(30)
        except (BrokenPipeError, ConnectionResetError):
            pass


class MjpegCamera:
    """Serve `frames` (BGR or grey uint8 arrays) as Motion JPEG on a free port."""

    def __init__(
        self,
        frames: Sequence[np.ndarray],
        *,
        fps: float = 100.0,
        quality: int = 90,
        stall: bool = False,
    ) -> None:
        self.jpegs: list[bytes] = []
        self.show(frames, quality)
        self.fps = fps
        self.stall = stall
        self.released = threading.Event()
        self.clients = 0
        self.sent = 0
        self._server = _QuietServer(("127.0.0.1", 0), _Handler)
        self._server.camera = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def show(self, frames: Sequence[np.ndarray], quality: int = 90) -> None:
        """What the next client to connect is sent (one already streaming is not)."""
        self.jpegs = [_jpeg(frame, quality) for frame in frames]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/video.mjpg"

    def close(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> MjpegCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("OpenCV could not JPEG-encode a frame")
    return encoded.tobytes()
