"""Camera sources, QR decoders and multi-frame confirmation; no Qt (docs/architecture.md).

`gui/` wraps the scanner's callbacks in Qt signals; everything here runs and is tested
without a display.
"""

from .confirm import Confirmer
from .decoders import (
    Decoder,
    Detection,
    available_decoders,
    decoder_names,
    get_decoder,
)
from .opening import CameraInfo, list_cameras
from .scanner import PreviewFrame, Scanner, ScanStats, decode_image, decode_image_file
from .sources import (
    FrameSource,
    SourceKind,
    SourceSpec,
    VideoSource,
    open_source,
    parse_source,
)

__all__ = [
    "CameraInfo",
    "Confirmer",
    "Decoder",
    "Detection",
    "FrameSource",
    "PreviewFrame",
    "ScanStats",
    "Scanner",
    "SourceKind",
    "SourceSpec",
    "VideoSource",
    "available_decoders",
    "decode_image",
    "decode_image_file",
    "decoder_names",
    "get_decoder",
    "list_cameras",
    "open_source",
    "parse_source",
]
