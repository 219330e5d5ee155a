"""Browser tests: Debian's Chromium driven by Playwright (by path) against the real Blu app and its
offline stand-in model. Every page's console errors are collected and fail the test that caused them; a failed
test leaves what it takes to diagnose it under test-output/failures/<test>/ (screenshots, console, stand-in logs)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import PASSWORD, REPO, BluClient, BluServer
from tests.web.helpers import open_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
DIST = REPO / "web" / "dist"
SCREENSHOTS = REPO / "test-output" / "screenshots"
FAILURES = REPO / "test-output" / "failures"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _ensure_built() -> None:
    if (DIST / "index.html").is_file():
        return
    npm = shutil.which("npm")
    if npm is None or not (REPO / "node_modules").is_dir():
        pytest.fail("web/dist is missing: run `make web` (npm ci && npm run build:web) first")
    subprocess.run([npm, "run", "--silent", "build:web"], cwd=REPO, check=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (make browser installs it)")
    _ensure_built()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def blu(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BluServer]:
    """One real Blu (stand-in model, local store) for the whole browser suite."""
    server = BluServer(tmp_path_factory.mktemp("blu-web") / "data", env={"BLU_TRUST_FORWARDED_FOR": "1"}).start()
    yield server
    server.stop()


@pytest.fixture
def own_blu(browser: Any, tmp_path: Path) -> Iterator[BluServer]:
    """A server of its own, for a test that changes what every session shares (the memory, the tool policy)."""
    server = BluServer(tmp_path / "data").start()
    yield server
    server.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Before any fixture stops: a server a test started stops before the pages that still poll it close
    (fixtures end in reverse order), and what those pages log then is not the test's."""
    watcher = getattr(item, "funcargs", {}).get("console")
    if isinstance(watcher, Console):
        watcher.over = True
    return (yield)


# -- failure reports ------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@dataclass
class Diagnostics:
    """What a failed test saves: named text sources (stand-in logs, the last answers) and its pages."""

    node: pytest.Item
    sources: dict[str, Callable[[], str]] = field(default_factory=dict)
    saved: bool = False

    def add(self, name: str, source: Callable[[], str]) -> None:
        self.sources[name] = source

    @property
    def failed(self) -> bool:
        reports = self.node.stash.get(_REPORTS, {})
        return any(report.failed for report in reports.values())

    def save(self, pages: list[Any], console: Console) -> Path | None:
        if self.saved or not self.failed:
            return None
        self.saved = True
        folder = FAILURES / re.sub(r"[^\w.-]+", "_", self.node.nodeid)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for index, page in enumerate(pages):
            try:
                page.screenshot(path=str(folder / f"page-{index}.png"), full_page=True)
                (folder / f"page-{index}.url.txt").write_text(page.url)
            except Exception as error:  # a crashed page: say so and keep going
                (folder / f"page-{index}.error.txt").write_text(repr(error))
        (folder / "console.txt").write_text("\n".join(console.messages) + "\n")
        for name, source in self.sources.items():
            try:
                text = source()
            except Exception as error:
                text = f"could not read: {error!r}"
            (folder / f"{name}.txt").write_text(text + "\n")
        return folder


@pytest.fixture
def diagnostics(request: pytest.FixtureRequest) -> Iterator[Diagnostics]:
    found = Diagnostics(request.node)
    yield found
    found.save([], Console())


# -- console errors -------------------------------------------------------------------------------
RESTART_ERRORS = (
    r"ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|ERR_SOCKET_NOT_CONNECTED|status of 503"
)


@dataclass
class Console:
    """Console errors and uncaught exceptions of every page in a test. A page that fails to load a
    resource logs an error too; the ones a test expects (a 401 while logged out) are allowed by pattern."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # everything, for a failed test's report
    over: bool = False  # the test's body has ended: what pages log while fixtures stop servers is not its

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def allow_restart(self) -> None:
        """Allow what a page logs while its server restarts: a read cut off at whichever point the
        process died (refused, reset, empty, socket closed) and the 503 of the start-up."""
        self.allow(RESTART_ERRORS)

    def watch(self, page: Any) -> None:
        def on_console(message: Any) -> None:
            location = message.location or {}
            line = f"{message.text} [{location.get('url', '')}]"
            self.messages.append(f"{time.time():.3f} {message.type}: {line}")
            if message.type == "error" and not self.over:
                self.errors.append(line)

        def on_error(error: Any) -> None:
            if not self.over:
                self.errors.append(f"uncaught: {error}")
            self.messages.append(f"{time.time():.3f} uncaught: {error}")

        page.on("console", on_console)
        page.on("pageerror", on_error)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@pytest.fixture
def console() -> Iterator[Console]:
    watcher = Console()
    yield watcher
    assert not watcher.unexpected(), "console errors:\n" + "\n".join(watcher.unexpected())


ContextFactory = Callable[..., Any]


@pytest.fixture
def new_context(browser: Any, console: Console, diagnostics: Diagnostics) -> Iterator[ContextFactory]:
    """Browser contexts (separate cookie jars, like separate devices) whose pages are watched (and saved
    when the test fails)."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(**options)
        context.on("page", console.watch)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    diagnostics.save([page for context in contexts for page in context.pages], console)
    for context in contexts:
        context.close()


def login_context(context: Any, base_url: str) -> None:
    """Log a context in through the API (the login form has its own test); the cookie lands in its jar."""
    response = context.request.post(f"{base_url}/api/login", data={"password": PASSWORD})
    assert response.status == 204, response.text()


@pytest.fixture
def logged_in(new_context: ContextFactory, blu: BluServer) -> Callable[..., Any]:
    def make(**options: Any) -> Any:
        context = new_context(**options)
        login_context(context, blu.url)
        return context

    return make


AppPage = Callable[..., Any]


@pytest.fixture
def app_page(new_context: ContextFactory) -> AppPage:
    """`app_page(server, path="/", **options)`: a page of the app, logged in and ready (`html[data-ready=app]`),
    in a context of its own (a device: `options` as for `new_context`); `page.context` opens more tabs in it."""

    def make(server: BluServer, path: str = "/", **options: Any) -> Any:
        context = new_context(**options)
        login_context(context, server.url)
        page = context.new_page()
        open_app(page, server.url, path)
        return page

    return make


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


OVERFLOW_JS = """() => {
    const inner = window.innerWidth;
    const result = {
        scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth, inner, boxes: [],
    };
    // Scroll containers of the layout must not scroll sideways either (that hides overflow from the page).
    const containers = '.chat__scroll, .sidebar__list, .panel__view, .topbar, .composer, .preview__body, .wake__card';
    for (const el of document.querySelectorAll(containers)) {
        if (el.getClientRects().length && el.scrollWidth > el.clientWidth + 1) {
            result.boxes.push(`${el.className}: ${el.scrollWidth} > ${el.clientWidth}`);
        }
    }
    if (result.boxes.length || result.scroll > inner) {
        for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            const fixed = getComputedStyle(el).position === 'fixed';
            if (r.width && r.right > inner + 1 && !el.closest('pre') && !fixed) {
                result.boxes.push(`${el.tagName}.${el.className} right=${Math.round(r.right)}`);
            }
            if (result.boxes.length > 12) break;
        }
    }
    return result;
}"""


def assert_no_horizontal_overflow(page: Any, what: str) -> None:
    sizes = page.evaluate(OVERFLOW_JS)
    assert sizes["scroll"] <= sizes["inner"], f"{what}: horizontal overflow {sizes}"
    assert sizes["body"] <= sizes["inner"], f"{what}: horizontal overflow {sizes}"
    assert not sizes["boxes"], f"{what}: content wider than its container {sizes}"


def stored_messages(api: BluClient, session_id: str) -> list[dict[str, Any]]:
    return api.messages(session_id)


def wait_http(url: str, timeout: float = 10) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer")
