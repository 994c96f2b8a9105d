"""Realistic webcam frames of a phone screen showing a QR code.

Decoder choices and the viewfinder are judged on these frames rather than on clean
renders, because a clean render decodes everywhere and says nothing. A frame is built the
way a laptop webcam sees a customer's phone: a room behind, a phone with a bezel, a page
with the answer QR, held at an angle, then the camera's optics and sensor (defocus,
motion blur, glare on the glass, exposure, noise, JPEG). Everything is drawn from a seeded
numpy Generator, so a seed names a frame exactly.

`difficulty` runs from 0 (phone held square, close, still, well lit) to 1 (tilted,
small, shaking, glare, dim and noisy); each frame samples its own parameters within the
ranges a difficulty allows.

A test and benchmark tool, not part of the app (it lives in tests/support, outside the
shipped package). Its pictures are BGR uint8 arrays, exactly what OpenCV's capture hands
the scanner, and `write_video` stores them as the Motion JPEG a USB webcam sends, which
the app plays back through the same `cv2.VideoCapture` path as a camera.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import qrcode
import qrcode.constants

from qrlink_desktop.core.alnum import ALPHABET as ANSWER_ALPHABET
from qrlink_desktop.core.bootstrap import ANSWER_PREFIX

FRAME_SIZE = (1280, 720)
"""(width, height) of a 720p webcam frame."""

# Focal length in pixels of a 720p webcam with a ~70° horizontal field of view; it turns
# the phone's tilt into the perspective a real lens produces.
_FOCAL_PX = 900.0

QUIET_ZONE = 4
"""Modules of light margin around the symbol, as the QR standard requires."""


# ---------------------------------------------------------------------------------------
# QR rendering


def qr_modules(text: str, *, border: int = QUIET_ZONE) -> np.ndarray:
    """The QR symbol for `text` at error correction M: a square bool array, True = dark.

    The array includes `border` modules of quiet zone on every side. It is read-only and
    shared: choosing the mask pattern is slow, and frames of one text reuse it.
    """
    return _qr_modules(text, border)


@functools.lru_cache(maxsize=64)
def _qr_modules(text: str, border: int) -> np.ndarray:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=border)
    qr.add_data(text)
    qr.make(fit=True)
    modules = np.array(qr.get_matrix(), dtype=bool)
    modules.flags.writeable = False
    return modules


def qr_version(text: str) -> int:
    """The smallest QR version that holds `text` at error correction M."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(text)
    qr.make(fit=True)
    return int(qr.version)


def render_qr(text: str, *, module_px: int = 8, border: int = QUIET_ZONE) -> np.ndarray:
    """A clean grayscale image of the QR for `text` (uint8, black on white)."""
    modules = qr_modules(text, border=border)
    image = np.where(modules, 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(image, module_px, axis=0), module_px, axis=1)


def answer_like_text(rng: np.random.Generator, length: int = 111) -> str:
    """A string shaped like a real answer QR text: the prefix, then base-41 characters.

    The default length is the size of a one-candidate answer (~110 characters, version 5).
    """
    body = rng.choice(list(ANSWER_ALPHABET), size=max(0, length - len(ANSWER_PREFIX)))
    return ANSWER_PREFIX + "".join(body)


def text_for_version(version: int, rng: np.random.Generator) -> str:
    """The longest answer-like text that still fits in QR `version` at error correction M.

    Filling the version makes it the worst case for that symbol size.
    """
    if not 1 <= version <= 40:
        raise ValueError(f"QR versions run from 1 to 40, not {version}")
    low, high = len(ANSWER_PREFIX) + 1, 2000
    template = answer_like_text(rng, high)
    # Binary search over the length: the version grows monotonically with it.
    while low < high:
        mid = (low + high + 1) // 2
        if qr_version(template[:mid]) <= version:
            low = mid
        else:
            high = mid - 1
    text = template[:low]
    if qr_version(text) != version:
        raise ValueError(f"no answer-like text lands exactly on version {version}")
    return text


# ---------------------------------------------------------------------------------------
# Parameters


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


@dataclass(frozen=True)
class Pose:
    """Where the phone is: centre of the QR in the frame, its size, and its angles."""

    cx: float
    cy: float
    symbol_px: float  # side of the QR symbol (without quiet zone) if seen head-on
    roll_deg: float  # rotation in the image plane
    yaw_deg: float  # turned left/right
    pitch_deg: float  # tipped towards/away from the camera


@dataclass(frozen=True)
class Optics:
    """What the camera does to the light: the same for a whole held-still sequence."""

    defocus_px: float  # radius of the defocus disk
    motion_px: float  # length of the motion-blur streak
    motion_deg: float
    noise: float  # standard deviation of sensor noise at mid-grey, 0..1 scale
    gain: float  # exposure
    contrast: float
    gamma: float
    screen_level: float  # screen white relative to a white sheet in the room
    glare: float  # peak added brightness of the specular reflection (0 = none)
    glare_radius: float  # as a fraction of the screen width
    glare_u: float  # centre of the reflection in screen coordinates, 0..1
    glare_v: float
    vignette: float
    jpeg_quality: int


@dataclass(frozen=True)
class FrameParams:
    pose: Pose
    optics: Optics


def sample_pose(rng: np.random.Generator, difficulty: float, size: tuple[int, int]) -> Pose:
    d = _check_difficulty(difficulty)
    width, height = size
    # The phone fills less of the frame as the customer holds it further away.
    symbol = _lerp(300.0, 190.0, d) * rng.uniform(0.85, 1.15) * height / 720.0
    tilt = _lerp(8.0, 35.0, d)
    return Pose(
        cx=width * rng.uniform(0.32, 0.68),
        cy=height * rng.uniform(0.36, 0.6),
        symbol_px=symbol,
        roll_deg=float(np.clip(rng.normal(0.0, _lerp(3.0, 18.0, d)), -45.0, 45.0)),
        yaw_deg=rng.uniform(-tilt, tilt),
        pitch_deg=rng.uniform(-tilt, tilt),
    )


def sample_optics(rng: np.random.Generator, difficulty: float) -> Optics:
    d = _check_difficulty(difficulty)
    has_glare = rng.random() < _lerp(0.3, 0.9, d)
    return Optics(
        defocus_px=rng.uniform(0.0, _lerp(0.8, 2.4, d)),
        motion_px=rng.uniform(0.0, _lerp(2.0, 7.0, d)),
        motion_deg=rng.uniform(0.0, 180.0),
        noise=rng.uniform(_lerp(0.004, 0.012, d), _lerp(0.012, 0.04, d)),
        gain=rng.uniform(_lerp(0.85, 0.6, d), _lerp(1.15, 1.35, d)),
        contrast=rng.uniform(_lerp(0.95, 0.6, d), 1.05),
        gamma=rng.uniform(0.8, 1.25),
        screen_level=rng.uniform(0.8, 1.05),
        glare=rng.uniform(0.25, _lerp(0.6, 1.1, d)) if has_glare else 0.0,
        glare_radius=rng.uniform(0.08, 0.3),
        glare_u=rng.uniform(0.0, 1.0),
        glare_v=rng.uniform(0.15, 0.75),
        vignette=rng.uniform(0.0, _lerp(0.15, 0.4, d)),
        jpeg_quality=int(rng.integers(int(_lerp(80, 40, d)), int(_lerp(95, 75, d)) + 1)),
    )


def sample_params(
    rng: np.random.Generator, difficulty: float, size: tuple[int, int] = FRAME_SIZE
) -> FrameParams:
    return FrameParams(sample_pose(rng, difficulty, size), sample_optics(rng, difficulty))


def _check_difficulty(difficulty: float) -> float:
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty runs from 0 to 1, not {difficulty}")
    return float(difficulty)


# ---------------------------------------------------------------------------------------
# Scene pieces


def _muted_colour(rng: np.random.Generator, saturation: float) -> tuple[float, float, float]:
    """A BGR colour of the kind rooms are painted and furnished in (rarely vivid)."""
    hsv = np.array(
        [[[rng.uniform(0, 180), rng.uniform(0, saturation) * 255, rng.uniform(0.15, 0.9) * 255]]],
        np.uint8,
    )
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0] / 255.0
    return float(b), float(g), float(r)


def make_background(rng: np.random.Generator, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """A room behind the phone: lit walls, shelves, objects, all a little out of focus.

    Float32 BGR in 0..1. Texture matters: a flat background flatters a decoder's finder
    pattern search.
    """
    width, height = size
    base = np.array(_muted_colour(rng, 0.25), np.float32)
    # Mostly shading (the same in every channel), a little colour cast.
    shade = rng.uniform(-0.15, 0.15, size=(6, 10, 1)).astype(np.float32)
    cast = rng.uniform(-0.03, 0.03, size=(6, 10, 3)).astype(np.float32)
    fine = rng.uniform(-0.04, 0.04, size=(90, 160, 1)).astype(np.float32)
    image: np.ndarray = base + cv2.resize(
        shade + cast, (width, height), interpolation=cv2.INTER_CUBIC
    )
    image += cv2.resize(fine, (width, height), interpolation=cv2.INTER_LINEAR)[..., None]
    # Light falls from above.
    image *= np.linspace(1.15, 0.8, height, dtype=np.float32)[:, None, None]
    # Furniture and things on the wall: hard-edged shapes give the decoder false leads.
    for _ in range(int(rng.integers(6, 14))):
        colour = _muted_colour(rng, 0.5)
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.6:
            x1 = x0 + int(rng.integers(40, 400))
            y1 = y0 + int(rng.integers(10, 250))
            cv2.rectangle(image, (x0, y0), (x1, y1), colour, thickness=-1)
        else:
            cv2.circle(image, (x0, y0), int(rng.integers(15, 120)), colour, thickness=-1)
    for _ in range(int(rng.integers(3, 9))):
        p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(image, p0, p1, _muted_colour(rng, 0.3), thickness=int(rng.integers(1, 6)))
    # The camera focuses on the phone, so the room is soft.
    image = cv2.GaussianBlur(image, (0, 0), sigmaX=rng.uniform(1.0, 4.0))
    return np.clip(image, 0.0, 1.0)


@dataclass(frozen=True)
class _Phone:
    image: np.ndarray  # float32 BGR, 0..1
    alpha: np.ndarray  # float32, 1 on the phone
    qr_box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the symbol (no quiet zone)
    screen_box: tuple[float, float, float, float]
    module_px: int


def _rounded_rect(
    mask: np.ndarray, box: tuple[int, int, int, int], radius: int, value: float | tuple[float, ...]
) -> None:
    x0, y0, x1, y1 = box
    r = max(1, min(radius, (x1 - x0) // 2, (y1 - y0) // 2))
    cv2.rectangle(mask, (x0 + r, y0), (x1 - r, y1), value, thickness=-1)
    cv2.rectangle(mask, (x0, y0 + r), (x1, y1 - r), value, thickness=-1)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(mask, (cx, cy), r, value, thickness=-1, lineType=cv2.LINE_AA)


def _draw_phone(modules: np.ndarray, module_px: int, rng: np.random.Generator) -> _Phone:
    """A phone in its own pixel grid: bezel, a page with a header, the QR, some text."""
    n = modules.shape[0]
    qr_side = n * module_px
    margin = int(qr_side * rng.uniform(0.06, 0.14))
    screen_w = qr_side + 2 * margin
    screen_h = int(screen_w * rng.uniform(2.0, 2.2))
    bezel = max(4, int(screen_w * rng.uniform(0.03, 0.06)))
    width, height = screen_w + 2 * bezel, screen_h + 2 * bezel
    image = np.zeros((height, width, 3), np.float32)
    alpha = np.zeros((height, width), np.float32)
    body_colour = tuple(float(c) for c in rng.uniform(0.03, 0.18, size=3))
    _rounded_rect(image, (0, 0, width - 1, height - 1), int(width * 0.12), body_colour)
    _rounded_rect(alpha, (0, 0, width - 1, height - 1), int(width * 0.12), 1.0)

    sx0, sy0 = bezel, bezel
    # A display's white is not paper white; most lean blue.
    white = np.array([1.0, rng.uniform(0.95, 1.0), rng.uniform(0.9, 1.0)], np.float32)
    _rounded_rect(
        image,
        (sx0, sy0, sx0 + screen_w - 1, sy0 + screen_h - 1),
        int(width * 0.09),
        tuple(float(c) for c in white),
    )
    header_h = int(screen_h * 0.08)
    header = tuple(float(c) for c in rng.uniform(0.2, 0.8, size=3))
    cv2.rectangle(
        image,
        (sx0 + int(width * 0.05), sy0 + int(screen_h * 0.03)),
        (sx0 + screen_w - 1 - int(width * 0.05), sy0 + header_h),
        header,
        thickness=-1,
    )
    qr_x0 = sx0 + margin
    qr_y0 = sy0 + int(screen_h * rng.uniform(0.2, 0.3))
    tile = np.repeat(np.repeat(modules, module_px, axis=0), module_px, axis=1)
    region = image[qr_y0 : qr_y0 + qr_side, qr_x0 : qr_x0 + qr_side]
    region[:] = np.where(tile[..., None], np.float32(0.02), white)
    # Lines of text and a button under the code, the way the mobile page lays it out.
    y = qr_y0 + qr_side + int(module_px * 2)
    for _ in range(int(rng.integers(2, 5))):
        line_h = max(2, int(module_px * 1.2))
        x1 = sx0 + margin + int((screen_w - 2 * margin) * rng.uniform(0.4, 1.0))
        cv2.rectangle(image, (sx0 + margin, y), (x1, y + line_h), (0.3, 0.3, 0.3), -1)
        y += int(line_h * 2.4)
    button = tuple(float(c) for c in rng.uniform(0.1, 0.9, size=3))
    by0 = min(y + module_px * 2, sy0 + screen_h - module_px * 8)
    cv2.rectangle(
        image, (sx0 + margin, by0), (sx0 + screen_w - margin, by0 + module_px * 5), button, -1
    )

    q0 = QUIET_ZONE * module_px
    qr_box = (
        float(qr_x0 + q0),
        float(qr_y0 + q0),
        float(qr_x0 + qr_side - q0),
        float(qr_y0 + qr_side - q0),
    )
    screen_box = (float(sx0), float(sy0), float(sx0 + screen_w), float(sy0 + screen_h))
    return _Phone(image, alpha, qr_box, screen_box, module_px)


def _homography(phone: _Phone, pose: Pose) -> np.ndarray:
    """The projective map from the phone's pixel grid to the frame for a 3-D pose."""
    x0, y0, x1, y1 = phone.qr_box
    scale = pose.symbol_px / (x1 - x0)
    qcx, qcy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = phone.alpha.shape
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    # Phone corners in a plane through the QR centre, in frame pixels at unit depth.
    plane = np.column_stack([(src[:, 0] - qcx) * scale, (src[:, 1] - qcy) * scale, np.zeros(4)])
    r = _rotation(pose.roll_deg, pose.yaw_deg, pose.pitch_deg)
    world = plane @ r.T + np.array([0.0, 0.0, _FOCAL_PX])
    dst = np.column_stack(
        [
            pose.cx + _FOCAL_PX * world[:, 0] / world[:, 2],
            pose.cy + _FOCAL_PX * world[:, 1] / world[:, 2],
        ]
    )
    return cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))


def _rotation(roll_deg: float, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    a, b, c = (math.radians(v) for v in (roll_deg, yaw_deg, pitch_deg))
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rx = np.array([[1, 0, 0], [0, math.cos(c), -math.sin(c)], [0, math.sin(c), math.cos(c)]])
    return ry @ rx @ rz


def _transform(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), h)
    return pts.reshape(-1, 2)


def _blur_kernel(optics: Optics, extra_motion: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Defocus disk convolved with a motion streak: one kernel, one filtering pass."""
    dx = optics.motion_px * math.cos(math.radians(optics.motion_deg)) + extra_motion[0]
    dy = optics.motion_px * math.sin(math.radians(optics.motion_deg)) + extra_motion[1]
    reach = math.ceil(optics.defocus_px + math.hypot(dx, dy) / 2) + 1
    size = 2 * reach + 1
    disk = np.zeros((size, size), np.float32)
    if optics.defocus_px >= 0.5:
        cv2.circle(disk, (reach, reach), round(optics.defocus_px), 1.0, -1, lineType=cv2.LINE_AA)
    else:
        disk[reach, reach] = 1.0
    streak = np.zeros((size, size), np.float32)
    if math.hypot(dx, dy) >= 1.0:
        p0 = (round(reach - dx / 2), round(reach - dy / 2))
        p1 = (round(reach + dx / 2), round(reach + dy / 2))
        cv2.line(streak, p0, p1, 1.0, 1, lineType=cv2.LINE_AA)
    else:
        streak[reach, reach] = 1.0
    kernel = cv2.filter2D(disk, -1, streak / streak.sum(), borderType=cv2.BORDER_CONSTANT)
    return kernel / kernel.sum()


# ---------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True)
class SyntheticFrame:
    image: np.ndarray  # uint8 BGR, as OpenCV's capture delivers a webcam's frame
    qr_corners: np.ndarray | None  # (4, 2) float: symbol corners in the frame, None if absent
    text: str | None
    params: FrameParams | None


class PhoneScene:
    """One room, one camera, one phone page: renders that phone at any pose.

    Reusing a scene across frames is both faster and what a video looks like.
    """

    def __init__(
        self,
        text: str,
        rng: np.random.Generator,
        *,
        size: tuple[int, int] = FRAME_SIZE,
        background: np.ndarray | None = None,
    ) -> None:
        self.text = text
        self.size = size
        self.background = make_background(rng, size) if background is None else background
        self._modules = qr_modules(text)
        # The page layout has its own seed so that every size of it looks the same.
        self._layout_seed = int(rng.integers(2**63))
        self._phones: dict[int, _Phone] = {}
        self._exposure_maps: dict[tuple[float, float], np.ndarray] = {}

    def _phone(self, symbol_px: float) -> _Phone:
        # Draw the phone at a module size near its final size: big enough that warping
        # downsamples a little (smooth edges), small enough to stay fast.
        n_symbol = self._modules.shape[0] - 2 * QUIET_ZONE
        module_px = max(3, round(1.5 * symbol_px / n_symbol))
        if module_px not in self._phones:
            layout = np.random.default_rng(self._layout_seed)
            self._phones[module_px] = _draw_phone(self._modules, module_px, layout)
        return self._phones[module_px]

    def render(
        self,
        params: FrameParams | None,
        rng: np.random.Generator,
        *,
        extra_motion: tuple[float, float] = (0.0, 0.0),
        optics: Optics | None = None,
    ) -> SyntheticFrame:
        """A frame with the phone at `params` (or the empty room when params is None)."""
        width, height = self.size
        image = self.background.copy()
        corners: np.ndarray | None = None
        if optics is None:
            optics = params.optics if params is not None else sample_optics(rng, 0.3)
        if params is not None:
            phone = self._phone(params.pose.symbol_px)
            h = _homography(phone, params.pose)
            ph, pw = phone.alpha.shape
            outline = _transform(h, np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float64))
            x0 = max(0, int(np.floor(outline[:, 0].min())))
            y0 = max(0, int(np.floor(outline[:, 1].min())))
            x1 = min(width, int(np.ceil(outline[:, 0].max())) + 1)
            y1 = min(height, int(np.ceil(outline[:, 1].max())) + 1)
            if x1 > x0 and y1 > y0:
                # Warp into the phone's bounding box only: most of the frame is the room.
                shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
                self._composite(image, phone, shift @ h, (x0, y0, x1, y1), params, optics)
            qx0, qy0, qx1, qy1 = phone.qr_box
            corners = _transform(h, np.array([[qx0, qy0], [qx1, qy0], [qx1, qy1], [qx0, qy1]]))

        image = self._camera(image, optics, rng, extra_motion)
        return SyntheticFrame(image, corners, self.text if corners is not None else None, params)

    def _composite(
        self,
        image: np.ndarray,
        phone: _Phone,
        h: np.ndarray,
        box: tuple[int, int, int, int],
        params: FrameParams,
        optics: Optics,
    ) -> None:
        x0, y0, x1, y1 = box
        scale = params.pose.symbol_px / (phone.qr_box[2] - phone.qr_box[0])
        source = phone.image
        if scale < 0.8:
            # Anti-alias before the downsampling warp, as a lens would.
            source = cv2.GaussianBlur(source, (0, 0), sigmaX=0.35 / scale)
        roi = (x1 - x0, y1 - y0)
        warped: np.ndarray = cv2.warpPerspective(source, h, roi, flags=cv2.INTER_LINEAR)
        alpha = cv2.warpPerspective(phone.alpha, h, roi, flags=cv2.INTER_LINEAR)[..., None]
        warped *= np.float32(optics.screen_level)
        if optics.glare > 0:
            warped += self._glare(phone, h, roi, optics)[..., None]
        view = image[y0:y1, x0:x1]
        view *= 1.0 - alpha
        view += warped * alpha

    def _glare(
        self, phone: _Phone, h: np.ndarray, roi: tuple[int, int], optics: Optics
    ) -> np.ndarray:
        """A specular reflection of a lamp on the glass, brightest at its centre."""
        sx0, sy0, sx1, sy1 = phone.screen_box
        u = sx0 + optics.glare_u * (sx1 - sx0)
        v = sy0 + optics.glare_v * (sy1 - sy0)
        centre, edge = _transform(
            h, np.array([[u, v], [u + optics.glare_radius * (sx1 - sx0), v]], np.float64)
        )
        radius = max(4.0, float(np.linalg.norm(edge - centre)))
        ys = np.arange(roi[1], dtype=np.float32)[:, None] - np.float32(centre[1])
        xs = np.arange(roi[0], dtype=np.float32)[None, :] - np.float32(centre[0])
        # Stretched sideways, it reads as the reflection of a window or a tube light.
        stretch = 1.0 + 1.5 * optics.glare_v
        blob = np.exp(
            -(xs**2 / np.float32(2 * (radius * stretch) ** 2)) - ys**2 / np.float32(2 * radius**2)
        )
        return (np.float32(optics.glare) * blob).astype(np.float32)

    def _camera(
        self,
        image: np.ndarray,
        optics: Optics,
        rng: np.random.Generator,
        extra_motion: tuple[float, float],
    ) -> np.ndarray:
        width, height = self.size
        image = cv2.filter2D(image, -1, _blur_kernel(optics, extra_motion))
        image *= self._exposure(optics.vignette, optics.gain)
        # Tone curve (contrast, then gamma) on 8 bits through a table: cheap and what an
        # image signal processor does.
        levels = np.clip(np.arange(256, dtype=np.float32) / 255.0, 0.0, 1.0)
        curve = np.power(np.clip((levels - 0.5) * optics.contrast + 0.5, 0.0, 1.0), optics.gamma)
        lut = np.clip(curve * 255.0 + 0.5, 0, 255).astype(np.uint8)
        toned = cv2.LUT(cv2.convertScaleAbs(image, alpha=255.0), lut)
        # Shot noise grows with the signal; after demosaicing and the camera's own
        # denoising, noise is correlated over neighbouring pixels, and chroma noise is
        # blotchy.
        sigma = np.float32(255.0 * optics.noise) * np.sqrt(
            0.25 + np.arange(256, dtype=np.float32) / 255.0
        )
        grey = cv2.cvtColor(toned, cv2.COLOR_BGR2GRAY)
        luma = rng.standard_normal((height // 2, width // 2), dtype=np.float32)
        luma = cv2.resize(luma, (width, height), interpolation=cv2.INTER_LINEAR) * sigma[grey]
        chroma: np.ndarray = rng.standard_normal((height // 4, width // 4, 3), dtype=np.float32)
        chroma = cv2.resize(chroma, (width, height), interpolation=cv2.INTER_LINEAR)
        noisy = toned.astype(np.float32)
        noisy += luma[..., None]
        noisy += chroma * np.float32(0.6 * 255.0 * optics.noise)
        out = cv2.convertScaleAbs(noisy)
        ok, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, optics.jpeg_quality])
        if not ok:
            raise RuntimeError("OpenCV could not JPEG-encode a synthetic frame")
        decoded: np.ndarray | None = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        if decoded is None:
            raise RuntimeError("OpenCV could not decode its own JPEG")
        return decoded

    def _exposure(self, vignette: float, gain: float) -> np.ndarray:
        """Gain times lens fall-off towards the corners, as one multiplier per pixel."""
        key = (round(vignette, 4), round(gain, 4))
        if key not in self._exposure_maps:
            width, height = self.size
            ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
            xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
            falloff = 1.0 - np.float32(vignette) * (xs**2 + ys**2) / 2
            self._exposure_maps.clear()  # one camera setting per sequence; keep one
            self._exposure_maps[key] = (falloff * np.float32(gain))[..., None]
        return self._exposure_maps[key]


def make_frame(
    text: str,
    rng: np.random.Generator,
    difficulty: float = 0.5,
    *,
    size: tuple[int, int] = FRAME_SIZE,
) -> SyntheticFrame:
    """One independent frame: its own room, pose and camera, drawn from `rng`."""
    scene = PhoneScene(text, rng, size=size)
    return scene.render(sample_params(rng, difficulty, size), rng)


def make_frames(
    text: str, count: int, *, seed: int = 0, difficulty: float = 0.5, rooms: int = 8
) -> list[SyntheticFrame]:
    """`count` independent frames of `text`, cycling through a few rooms to save time."""
    rng = np.random.default_rng(seed)
    backgrounds = [make_background(rng) for _ in range(min(rooms, max(1, count)))]
    frames = []
    for i in range(count):
        scene = PhoneScene(text, rng, background=backgrounds[i % len(backgrounds)])
        frames.append(scene.render(sample_params(rng, difficulty), rng))
    return frames


def phone_sequence(
    text: str,
    *,
    seed: int = 0,
    difficulty: float = 0.4,
    empty_frames: int = 15,
    enter_frames: int = 10,
    hold_frames: int = 45,
    size: tuple[int, int] = FRAME_SIZE,
) -> list[SyntheticFrame]:
    """A clip as the webcam records it: the room alone, the phone raised into view, held.

    While held, the phone drifts and shakes a little from frame to frame (a damped random
    walk), and the blur follows the motion between frames, as it does at 30 fps.
    """
    rng = np.random.default_rng(seed)
    scene = PhoneScene(text, rng, size=size)
    hold = sample_params(rng, difficulty, size)
    optics = hold.optics
    frames = [scene.render(None, rng, optics=optics) for _ in range(empty_frames)]

    width, height = size
    # The customer lifts the phone up from below the frame.
    start = replace(
        hold.pose,
        cy=height + hold.pose.symbol_px,
        cx=hold.pose.cx + rng.uniform(-0.1, 0.1) * width,
        pitch_deg=hold.pose.pitch_deg + rng.uniform(15.0, 30.0),
        roll_deg=hold.pose.roll_deg + rng.uniform(-15.0, 15.0),
    )
    previous = start
    for i in range(1, enter_frames + 1):
        t = 1.0 - (1.0 - i / enter_frames) ** 2  # eases out as it arrives
        pose = _mix_pose(start, hold.pose, t)
        frames.append(_moving_frame(scene, pose, previous, optics, rng))
        previous = pose

    shake = _lerp(1.0, 4.0, difficulty)
    offset = np.zeros(5)
    for _ in range(hold_frames):
        # Damped random walk: hands wobble but stay near where they meant to be.
        offset = 0.7 * offset + rng.normal(0.0, 1.0, 5) * np.array(
            [shake, shake, 0.4 * shake, 0.5 * shake, 0.5 * shake]
        )
        pose = replace(
            hold.pose,
            cx=hold.pose.cx + offset[0],
            cy=hold.pose.cy + offset[1],
            roll_deg=hold.pose.roll_deg + offset[2],
            yaw_deg=hold.pose.yaw_deg + offset[3],
            pitch_deg=hold.pose.pitch_deg + offset[4],
        )
        frames.append(_moving_frame(scene, pose, previous, optics, rng))
        previous = pose
    return frames


def _mix_pose(a: Pose, b: Pose, t: float) -> Pose:
    return Pose(
        cx=_lerp(a.cx, b.cx, t),
        cy=_lerp(a.cy, b.cy, t),
        symbol_px=_lerp(a.symbol_px, b.symbol_px, t),
        roll_deg=_lerp(a.roll_deg, b.roll_deg, t),
        yaw_deg=_lerp(a.yaw_deg, b.yaw_deg, t),
        pitch_deg=_lerp(a.pitch_deg, b.pitch_deg, t),
    )


def _moving_frame(
    scene: PhoneScene, pose: Pose, previous: Pose, optics: Optics, rng: np.random.Generator
) -> SyntheticFrame:
    # The shutter is open for about half the frame interval.
    motion = (0.5 * (pose.cx - previous.cx), 0.5 * (pose.cy - previous.cy))
    still = replace(optics, motion_px=0.3 * optics.motion_px)
    return scene.render(FrameParams(pose, still), rng, extra_motion=motion)


def write_video(
    path: str | Path, frames: Sequence[np.ndarray | SyntheticFrame], fps: float = 30.0
) -> Path:
    """Write frames as Motion-JPEG in an AVI: OpenCV writes and reads it with no codecs."""
    path = Path(path)
    if not frames:
        raise ValueError("a video needs at least one frame")
    images = [f.image if isinstance(f, SyntheticFrame) else f for f in frames]
    height, width = images[0].shape[:2]
    fourcc = cv2.VideoWriter.fourcc(*"MJPG")
    writer = cv2.VideoWriter(str(path), fourcc, float(fps), (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write a video to {path}")
    try:
        for image in images:
            if image.shape[:2] != (height, width):
                raise ValueError("all frames of a video must have the same size")
            if image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            writer.write(image)
    finally:
        writer.release()
    return path
