"""A headless browser in the phone's namespace, for each engine (Chromium, Firefox) and
each topology: one loopback-only namespace, and a laptop and a phone namespace joined by a
veth pair (real mDNS candidate).

Every browser test takes `phone` (or, for a test that builds its own topology,
`browser_engine` and `ms.browser_in`), so it runs once per engine: ids `chromium` and
`firefox`. One browser serves a whole module per engine and topology.
"""

from __future__ import annotations

from collections.abc import Iterator

import mobile_support as ms
import pytest
from mobile_support import PhoneBrowser


@pytest.fixture(scope="session", autouse=True)
def _page_built() -> None:
    ms.check_tools()
    ms.ensure_page_built()


@pytest.fixture(scope="module", params=ms.ENGINES)
def browser_engine(request: pytest.FixtureRequest) -> str:
    """The engine a browser test runs on: "chromium" or "firefox"."""
    engine: str = request.param
    return engine


@pytest.fixture(scope="module", params=["loopback", "namespaces"])
def phone(request: pytest.FixtureRequest, browser_engine: str) -> Iterator[PhoneBrowser]:
    with (
        ms.topology(request.param) as topology,
        ms.browser_in(browser_engine, topology) as browser,
    ):
        yield PhoneBrowser(topology, browser, request.param, browser_engine)


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
