"""The page's fallbacks for older browsers, on each engine: a browser without flex `gap`
(iOS 14.3–14.4) is simulated by forcing every gap to zero before the page starts."""

from __future__ import annotations

from collections.abc import Iterator

import mobile_support as ms
import pytest
from playwright.sync_api import Browser, Page

# The page sees a browser that ignores `gap`: an !important rule beats the inline
# `row-gap` of its probe, as the missing feature would.
NO_FLEX_GAP = """
(() => {
  const style = document.createElement("style");
  style.textContent = "*{row-gap:0!important;column-gap:0!important}";
  new MutationObserver((_, seen) => {
    if (document.head) { document.head.append(style); seen.disconnect(); }
  }).observe(document, { childList: true, subtree: true });
})();
"""


@pytest.fixture(scope="module")
def browser(browser_engine: str) -> Iterator[Browser]:
    with ms.topology("loopback") as topology, ms.browser_in(browser_engine, topology) as b:
        yield b


def _remote_form(browser: Browser, script: str = "") -> Page:
    page = browser.new_page(viewport={"width": 400, "height": 720})
    if script:
        page.add_init_script(script)
    page.goto((ms.DIST / "index.html").as_uri())
    page.wait_for_selector("body[data-state=choosing]")
    page.click("#choose-remote")
    page.wait_for_selector("body[data-screen=remote]")
    return page


def _space_below_title(page: Page) -> float:
    """Pixels between the form's title and its first label (page.css: 10)."""
    space: float = page.evaluate(
        """() => document.querySelector("#remote-form label").getBoundingClientRect().top
               - document.querySelector("#remote-form h1").getBoundingClientRect().bottom"""
    )
    return space


def test_flex_gap_spaces_the_form_where_the_browser_has_it(browser: Browser) -> None:
    page = _remote_form(browser)
    assert page.get_attribute("html", "class") in (None, "")
    assert _space_below_title(page) == pytest.approx(10, abs=0.5)
    page.close()


def test_without_flex_gap_margins_space_the_form(browser: Browser) -> None:
    page = _remote_form(browser, NO_FLEX_GAP)
    assert page.get_attribute("html", "class") == "no-flex-gap"
    assert _space_below_title(page) == pytest.approx(10, abs=0.5)
    # The margins are what spaces it: without the fallback the items would touch.
    page.evaluate("document.documentElement.classList.remove('no-flex-gap')")
    assert _space_below_title(page) == pytest.approx(0, abs=0.5)
    page.close()
