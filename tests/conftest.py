"""Session-wide settings for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _logs_stay_out_of_the_developers_home(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    # The app and its subprocesses log to the platform's log directory; a test run would
    # otherwise fill the developer's own qrlink.log with its sessions.
    previous = os.environ.get("QRLINK_LOG_DIR")
    os.environ["QRLINK_LOG_DIR"] = str(tmp_path_factory.mktemp("logs"))
    yield
    if previous is None:
        os.environ.pop("QRLINK_LOG_DIR", None)
    else:
        os.environ["QRLINK_LOG_DIR"] = previous
