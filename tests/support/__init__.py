"""Test and benchmark tools, not part of the app: realistic webcam frames (`synthetic`),
an IP camera serving Motion JPEG over HTTP (`mjpeg`), and fault injection on a peer's
datagram path (`faults`). `tests/` is on pytest's path; the benchmarks add it to theirs.
"""
