"""qrlink: pair a laptop and a phone through QR codes and talk over a WebRTC data channel."""

__version__ = "0.1.0"
