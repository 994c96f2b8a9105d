"""A headless Chromium in the phone's namespace, for each topology: one loopback-only
namespace, and a laptop and a phone namespace joined by a veth pair (real mDNS candidate)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import mobile_support as ms
import pytest
from mobile_support import PhoneBrowser
from playwright.sync_api import sync_playwright


@pytest.fixture(scope="session", autouse=True)
def _page_built() -> None:
    ms.check_tools()
    ms.ensure_page_built()


@pytest.fixture(scope="module", params=["loopback", "namespaces"])
def phone(request: pytest.FixtureRequest) -> Iterator[PhoneBrowser]:
    topo_cm: AbstractContextManager[ms.Topology] = (
        ms.loopback_namespace() if request.param == "loopback" else ms.two_namespaces()
    )
    with topo_cm as topology, tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(ms.chromium_wrapper(topology.phone, Path(tmp))),
            args=ms.chromium_args(topology),
        )
        try:
            yield PhoneBrowser(topology, browser, request.param)
        finally:
            browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed browser test shows what its pages printed (their link's errors among it)."""
    outcome = yield
    report = outcome.get_result()
    phone = getattr(item, "funcargs", {}).get("phone")
    if report.when == "call" and isinstance(phone, PhoneBrowser):
        if report.failed and phone.console:
            report.sections.append(("page console", "\n".join(phone.console[-200:])))
        phone.console.clear()
