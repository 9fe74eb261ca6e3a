"""The atlas in real Chromium (Debian's /usr/bin/chromium, never a downloaded browser):
pages load without console errors, a grid number leads to as many evidence rows, every
link on the first page is reachable with Tab, and the screenshots in docs/ are taken."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from llmcarto.atlas.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
DOCS = Path(__file__).resolve().parents[1] / "docs"
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium "
    "(.ci/run installs it; browsers are never downloaded)")
pytestmark = [pytest.mark.browser, needs_chromium]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_atlas(db_path: Path) -> Iterator[str]:
    """The real app under uvicorn on a free loopback port, in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(db_path), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the atlas did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium(base_url: str) -> Iterator[tuple]:
    """(page, problems): a 1400px-wide page whose console errors, page errors, dialogs and
    any request leaving the atlas are collected in `problems` (and blocked)."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})

        def guard(route):
            if route.request.url.startswith(base_url + "/"):
                route.continue_()
            else:
                problems.append(f"request outside the atlas: {route.request.url}")
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

        def on_dialog(dialog):
            problems.append(f"dialog: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        try:
            yield page, problems
        finally:
            context.close()
            browser.close()


@pytest.fixture(scope="module")
def atlas(built_store: Path) -> Iterator[str]:
    with running_atlas(built_store) as url:
        yield url


def leading_number(text: str) -> int:
    return int(re.match(r"\s*([\d,]+)", text).group(1).replace(",", ""))


def test_pages_load_without_console_errors_and_screenshots(atlas):
    DOCS.mkdir(exist_ok=True)
    with chromium(atlas) as (page, problems):
        response = page.goto(atlas + "/")
        assert response.status == 200
        assert page.locator("table.grid tbody tr").count() == 14
        page.screenshot(path=str(DOCS / "atlas-map.png"), full_page=True)
        response = page.goto(atlas + "/case/bigscience")
        assert response.status == 200
        assert page.get_by_text("bigscience-workshop/Megatron-DeepSpeed").first.is_visible()
        page.screenshot(path=str(DOCS / "atlas-case.png"), full_page=True)
        page.goto(atlas + "/evidence?case=bigscience&stage=inherited")
        assert page.locator("tr.trace").count() == 100
        assert problems == []


def test_clicking_a_grid_number_lists_as_many_items(atlas):
    with chromium(atlas) as (page, problems):
        page.goto(atlas + "/")
        links = page.locator("table.grid td.cell ul.counts a")
        numbers = [leading_number(t) for t in links.all_inner_texts()]
        # the first number that spans more than one evidence page but stays quick to walk
        index = next((i for i, n in enumerate(numbers) if 100 < n <= 1000),
                     numbers.index(max(numbers)))
        expected = numbers[index]
        links.nth(index).click()
        page.wait_for_url(re.compile(r"/evidence\?"))
        assert leading_number(page.locator("#total").inner_text()) == expected
        listed = page.locator("tr.trace").count()
        while page.locator("a[rel=next]").count():
            page.locator("a[rel=next]").first.click()
            page.wait_for_load_state()
            listed += page.locator("tr.trace").count()
        assert listed == expected
        assert problems == []


def test_tab_reaches_every_link_on_the_first_page(atlas):
    with chromium(atlas) as (page, problems):
        page.goto(atlas + "/")
        total = page.locator("a[href]").count()
        assert total > 30
        seen: list[int] = []
        for _ in range(total + 10):
            page.keyboard.press("Tab")
            i = page.evaluate("[...document.querySelectorAll('a[href]')]"
                              ".indexOf(document.activeElement)")
            if i in seen:
                break
            if i >= 0:
                seen.append(i)
                outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
                assert outline != "none", f"link {i} has no visible focus outline"
        assert sorted(seen) == list(range(total))
        assert seen == sorted(seen), "the tab order follows the reading order"
        assert problems == []
