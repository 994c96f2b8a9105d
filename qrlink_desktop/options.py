"""Command-line options shared by the window (`qrlink gui`) and the headless peers."""

from __future__ import annotations

import argparse


def add_ice_options(group: argparse._ArgumentGroup, *, keep_unset: bool) -> None:
    """The network options. With `keep_unset`, options not given stay None, so the window
    can tell "not on the command line" from "off" and keep the saved setting."""
    group.add_argument(
        "--ice-server",
        action="append",
        default=None if keep_unset else [],
        metavar="URL",
        help="STUN or TURN server (stun:host:port, turn:host:port?transport=udp, "
        "turns:host:port?transport=tcp); repeatable. None by default: only local "
        "addresses are used and no public STUN server is contacted",
    )
    group.add_argument("--ice-username", help="username for the TURN servers")
    group.add_argument("--ice-credential", help="credential (password) for the TURN servers")
    group.add_argument(
        "--relay-only",
        action="store_true",
        default=None if keep_unset else False,
        help="privacy mode: use and reveal only TURN relay addresses",
    )
    group.add_argument(
        "--address",
        action="append",
        default=None,
        metavar="ADDR",
        help="gather host candidates only on this local address; repeatable "
        "(e.g. --address 127.0.0.1 to stay on this machine)",
    )
