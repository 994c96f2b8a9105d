"""The `qrlink` command: the app, the headless peers, the demo and the rendezvous service.

`qrlink peer ...` is a contract other tools script against: with `--json` every event is
one JSON object per line on standard output (resources/protocol/events.schema.json);
without it, the offer or answer text is printed alone on a line and everything meant for
a person goes to standard error.
The cashier's side (`peer offer`, `peer publish`) reads the code the customer reads out
as a line on standard input after its `sas` event (`peer offer` reads the answer text
first; with --serve-page the page may send the answer home instead, and an answer text
that still comes on standard input is then skipped); only a matching code confirms.
Exit status: 0 done (payment approved), 1 the connection failed, 2 bad input,
3 verification failed (the codes differ, or none was typed: nothing was paid),
4 payment declined, 130 interrupted.

    parser.py   the arguments          config.py  the frozen PeerConfig built from them
    peers.py    peer offer|publish|answer|lookup
    stdin.py    the answer and the code on standard input
    reporter.py what is printed        demo.py    qrlink demo
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from .. import logsetup
from ..core.errors import ErrorCode, QrlinkError
from ..core.events import ErrorEvent
from .config import PeerConfig
from .exits import EXIT_INTERRUPTED, EXIT_OK, SessionFailed, exit_status
from .parser import build_parser
from .reporter import Reporter

log = logging.getLogger("qrlink")

__all__ = ["build_parser", "main"]


def _said(error: QrlinkError) -> int:
    print(f"qrlink: {error.code}: {error.message}", file=sys.stderr)
    return exit_status(error)


async def _with_timeout(coro: Coroutine[Any, Any, int], seconds: float) -> int:
    try:
        return int(await asyncio.wait_for(coro, seconds))
    except TimeoutError:
        raise QrlinkError(
            ErrorCode.TIMEOUT, f"the session did not finish within {seconds:g} seconds"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "gui":
        from ..app import main as gui_main

        return gui_main(argv[1:])
    if argv and argv[0] == "rendezvous":
        from ..rendezvous.command import main as rendezvous_main

        return rendezvous_main(argv[1:])
    args = build_parser().parse_args(argv)
    logsetup.setup(args.verbose, "qrlink-cli")
    report: Reporter | None = None
    try:
        if args.self_test:
            from ..selftest import run as self_test

            return self_test()
        if args.command == "peer":
            from .peers import run_answer, run_offer

            cfg = PeerConfig.from_args(args)
            report = Reporter(cfg.as_json)
            runner = run_offer if cfg.cashier else run_answer
            return asyncio.run(_with_timeout(runner(cfg, report), cfg.timeout))
        if args.command is None:
            from ..app import main as gui_main

            return gui_main(["--verbose"] if args.verbose else [])
        if args.command == "demo":
            from .demo import run_demo

            return asyncio.run(run_demo(args))
        return EXIT_OK
    except SessionFailed as failed:  # said once already, as the session's `error` event
        if failed.said and report is not None and not report.as_json:
            return exit_status(failed.error)  # the event was that sentence on stderr
        return _said(failed.error)
    except QrlinkError as exc:
        if report is not None and report.as_json:
            report(ErrorEvent.of(exc))
        return _said(exc)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except OSError as exc:
        error = QrlinkError(ErrorCode.INVALID_ARGUMENT, str(exc))
        if report is not None and report.as_json:
            report(ErrorEvent.of(error))
        return _said(error)
