"""Voice mode in Chromium: the LiveKit adapter is replaced by a test double (web/dist-test), the token
endpoint and the microphone (Chromium's fake device) are real. Every state and failure is shown in words."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import BluClient, BluServer
from tests.web.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    AppPage,
    ContextFactory,
    assert_no_horizontal_overflow,
    login_context,
    screenshot,
)
from tests.web.helpers import open_app, session_id

pytestmark = pytest.mark.browser

WEB = Path(__file__).resolve().parents[2] / "web"
DIST_TEST = WEB / "dist-test"
LIVEKIT_ENV = {"LIVEKIT_URL": "ws://127.0.0.1:9", "LIVEKIT_API_KEY": "APIdouble", "LIVEKIT_API_SECRET": "s" * 40}


def _newest_source() -> float:
    files = [WEB / "index.html", WEB / "vite.config.mts", *WEB.glob("src/**/*"), *WEB.glob("test-doubles/**/*")]
    return max(f.stat().st_mtime for f in files if f.is_file())


def build_test_ui() -> None:
    """web/dist-test: the UI with the LiveKit double, rebuilt when a source is newer than the build."""
    page = DIST_TEST / "index.html"
    if page.is_file() and page.stat().st_mtime >= _newest_source():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to build web/dist-test (make deps installs the packages)")
    subprocess.run([npm, "run", "--silent", "build:web-test"], cwd=WEB.parent, check=True)


@pytest.fixture(scope="module")
def browser(browser: Any) -> Iterator[Any]:
    """A second Chromium of the suite's Playwright, with a fake microphone (a tone); whether a page may
    use it is each context's permission. The suite's own browser has built web/dist (used below)."""
    build_test_ui()
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream"]
    instance = browser.browser_type.launch(executable_path=str(CHROMIUM), args=args)
    yield instance
    instance.close()


def _server(base: Path, **env: str) -> BluServer:
    return BluServer(base / "data", env={"BLU_WEB_DIR": str(DIST_TEST), **env}).start()


@pytest.fixture(scope="module")
def blu(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BluServer]:
    """Blu with (unreachable) LiveKit settings, so the token endpoint answers; the double never dials."""
    server = _server(tmp_path_factory.mktemp("blu-voice"), **LIVEKIT_ENV)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def blu_off(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BluServer]:
    """Blu without LiveKit settings."""
    server = _server(tmp_path_factory.mktemp("blu-voice-off"))
    yield server
    server.stop()


@pytest.fixture
def mic_context(new_context: ContextFactory, blu: BluServer) -> Callable[..., Any]:
    """A logged-in context; the microphone is allowed unless `microphone=False`."""

    def make(*, microphone: bool = True, **options: Any) -> Any:
        context = new_context(permissions=["microphone"] if microphone else [], **options)
        login_context(context, blu.url)
        return context

    return make


def double(page: Any, expression: str, arg: Any = None) -> Any:
    """Drive or read the LiveKit double: `d` is window.voiceDouble."""
    page.wait_for_function("() => window.voiceDouble !== undefined")
    return page.evaluate(f"(arg) => {{ const d = window.voiceDouble; return {expression}; }}", arg)


def start_call(page: Any) -> None:
    page.get_by_test_id("voice-button").click()
    page.wait_for_selector("[data-testid=voice]")  # "connecting" may already have turned into a failure


def wait_state(page: Any, state: str) -> None:
    page.wait_for_selector(f"[data-testid=voice][data-state={state}]")


def wait_connect_pending(page: Any) -> None:
    page.wait_for_function("() => window.voiceDouble && window.voiceDouble.waiting")


def status(page: Any) -> str:
    return str(page.get_by_test_id("voice-status").inner_text())


def failure(page: Any, kind: str) -> str:
    page.wait_for_selector(f"[data-testid=voice][data-state=failed][data-failure={kind}]")
    return str(page.get_by_test_id("voice-error").inner_text())


def open_session(page: Any, blu: BluServer, api: BluClient) -> str:
    sid = api.new_session()
    open_app(page, blu.url, f"/#/s/{sid}")
    return sid


def level(page: Any, who: str) -> float:
    value = page.get_by_test_id(f"voice-level-{who}").evaluate(
        "e => getComputedStyle(e.parentElement).getPropertyValue('--level')"
    )
    return float(value or 0)


def test_a_call_shows_states_levels_and_both_sides_and_lands_in_the_chat(
    mic_context: Callable[..., Any], blu: BluServer, api: BluClient
) -> None:
    page = mic_context().new_page()
    sid = open_session(page, blu, api)
    start_call(page)
    assert page.get_by_test_id("voice-hangup").evaluate("e => document.activeElement === e")
    wait_connect_pending(page)
    assert status(page) == "Connecting…"
    connect = double(page, "d.connects[d.connects.length - 1]")
    assert connect["url"] == "ws://127.0.0.1:9"
    assert connect["token"].count(".") == 2  # the JWT from POST /api/voice/token
    screenshot(page, "voice-connecting")

    double(page, "d.accept()")
    wait_state(page, "waiting")
    assert status(page) == "Waiting for Blu to join…"
    double(page, "d.agentState('listening')")
    wait_state(page, "listening")
    assert status(page) == "Listening"

    double(page, "d.levels(0.7, 0)")
    page.wait_for_function("() => document.querySelector('.voice__bar').style.getPropertyValue('--level') === '0.7'")
    assert level(page, "local") == pytest.approx(0.7) and level(page, "remote") == 0

    double(page, "d.transcript({id: 'u1', speaker: 'user', text: 'What is on my', final: false})")
    line = page.locator(".voice__line--user")
    line.wait_for()
    assert line.get_attribute("data-final") == "false"
    double(page, "d.transcript({id: 'u1', speaker: 'user', text: 'What is on my list today?', final: true})")
    page.wait_for_selector(".voice__line--user[data-final=true]")
    assert "What is on my list today?" in line.inner_text() and line.count() == 1

    double(page, "d.agentState('thinking')")
    wait_state(page, "thinking")
    assert status(page) == "Thinking…"
    double(page, "d.agentState('speaking')")
    double(page, "d.levels(0.1, 0.8)")
    double(page, "d.transcript({id: 'a1', speaker: 'agent', text: 'Two things: the dentist', final: false})")
    wait_state(page, "speaking")
    assert status(page) == "Speaking"
    page.wait_for_selector(".voice__line--agent")
    assert level(page, "remote") == pytest.approx(0.8)
    screenshot(page, "voice-speaking")
    double(
        page,
        "d.transcript({id: 'a1', speaker: 'agent', text: 'Two things: the dentist at 3 and the report.', final: true})",
    )
    page.wait_for_selector(".voice__line--agent[data-final=true]")

    # Mute and unmute reach the call; the meter shows silence while muted.
    page.get_by_test_id("voice-mute").click()
    page.wait_for_selector("[data-testid=voice-mute][aria-pressed=true]")
    assert double(page, "d.muted") is True
    double(page, "d.levels(0.9, 0)")
    assert level(page, "local") == 0
    assert page.get_by_test_id("voice-mute").inner_text().strip() == "Unmute"
    screenshot(page, "voice-muted")
    page.get_by_test_id("voice-mute").click()
    page.wait_for_selector("[data-testid=voice-mute][aria-pressed=false]")
    assert double(page, "d.muted") is False

    # A short network loss: reconnecting, then back to the agent's state.
    double(page, "d.reconnecting()")
    wait_state(page, "reconnecting")
    assert status(page) == "Reconnecting…"
    double(page, "d.reconnected()")
    wait_state(page, "speaking")

    # The worker stores each spoken turn with channel "voice"; the chat streams it like any other message.
    api.turn(sid, "What is on my list today?", channel="voice")
    page.get_by_test_id("voice-hangup").click()
    page.wait_for_selector("[data-testid=voice]", state="detached")
    assert double(page, "d.hangUps") == 1 and double(page, "d.active") is False
    assert page.get_by_test_id("voice-button").evaluate("e => document.activeElement === e")
    spoken = page.locator("li.msg--user.msg--voice")
    spoken.wait_for()
    assert "What is on my list today?" in spoken.inner_text()
    assert spoken.locator(".msg__channel").inner_text().strip() == "Voice"
    assert spoken.locator(".msg__channel svg").count() == 1
    screenshot(page, "voice-messages-in-chat")


def test_the_call_works_on_a_phone_and_escape_hangs_up(
    mic_context: Callable[..., Any], blu: BluServer, api: BluClient
) -> None:
    page = mic_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    open_session(page, blu, api)
    start_call(page)
    wait_connect_pending(page)
    double(page, "d.accept()")
    double(page, "d.agentState('listening')")
    for n in range(8):
        double(
            page,
            "d.transcript(arg)",
            {"id": f"s{n}", "speaker": "user" if n % 2 else "agent", "text": "word " * 30, "final": True},
        )
    wait_state(page, "listening")
    assert_no_horizontal_overflow(page, "voice mode on a phone")
    for test_id in ("voice-mute", "voice-hangup"):
        box = page.get_by_test_id(test_id).bounding_box()
        assert box["height"] >= 44 and box["y"] + box["height"] <= PHONE["height"], test_id
    screenshot(page, "phone-voice")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=voice]", state="detached")
    assert double(page, "d.hangUps") >= 1


def test_the_mic_button_says_when_voice_is_not_configured(app_page: AppPage, blu_off: BluServer) -> None:
    page = app_page(blu_off, "/#/new")
    button = page.get_by_test_id("voice-button")
    assert button.get_attribute("aria-disabled") == "true"
    assert "Voice is not configured" in (button.get_attribute("title") or "")
    button.click(force=True)  # aria-disabled: it still answers a click, with the reason
    toast = page.locator(".toast--error")
    toast.wait_for()
    assert "LIVEKIT_URL" in toast.inner_text()
    assert page.locator("[data-testid=voice]").count() == 0
    assert page.url.endswith("#/new")  # no session was created for nothing
    screenshot(page, "voice-not-configured-button")


def test_a_503_from_the_token_endpoint_says_voice_is_not_configured(
    new_context: ContextFactory, blu_off: BluServer, console: Any
) -> None:
    console.allow(r"status of 503")
    context = new_context(permissions=["microphone"])
    login_context(context, blu_off.url)
    page = context.new_page()

    def config_says_voice(route: Any) -> None:  # a config from before the secret lost its LiveKit keys
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "voice": True})

    page.route("**/api/config", config_says_voice)
    health_checks: list[str] = []

    def on_request(request: Any) -> None:
        if request.url.endswith("/health"):
            health_checks.append(request.url)

    page.on("request", on_request)
    open_app(page, blu_off.url, "/#/new")
    page.get_by_test_id("voice-button").click()
    text = failure(page, "not-configured")
    assert "Voice isn't set up on this Blu" in text and "LIVEKIT_API_SECRET" in text
    assert not page.get_by_role("button", name="Try again").is_visible()
    assert not health_checks, "a 503 from Blu itself must not start the waking overlay"
    session_id(page)  # the session was created first, so the call has a room
    screenshot(page, "voice-not-configured")
    page.get_by_role("button", name="Close voice mode").click()
    page.wait_for_selector("[data-testid=voice]", state="detached")


def test_a_failed_token_request_is_explained_and_can_be_retried(
    mic_context: Callable[..., Any], blu: BluServer, api: BluClient, console: Any
) -> None:
    console.allow(r"status of 500")
    page = mic_context().new_page()
    open_session(page, blu, api)
    page.route("**/api/voice/token", lambda route: route.fulfill(status=500, json={"detail": "Internal Server Error"}))
    start_call(page)
    text = failure(page, "token-failed")
    assert "Blu couldn't start the call" in text and "Internal Server Error" in text
    page.unroute("**/api/voice/token")
    page.get_by_role("button", name="Try again").click()
    wait_connect_pending(page)
    double(page, "d.accept()")
    wait_state(page, "waiting")


def test_microphone_permission_denied_then_allowed(
    mic_context: Callable[..., Any], blu: BluServer, api: BluClient
) -> None:
    context = mic_context(microphone=False)
    page = context.new_page()
    open_session(page, blu, api)
    start_call(page)
    text = failure(page, "permission-denied")
    assert "isn't allowed to use your microphone" in text
    screenshot(page, "voice-permission-denied")
    context.grant_permissions(["microphone"], origin=blu.url)
    page.get_by_role("button", name="Try again").click()
    wait_connect_pending(page)
    double(page, "d.accept()")
    wait_state(page, "waiting")


def test_no_microphone(mic_context: Callable[..., Any], blu: BluServer, api: BluClient) -> None:
    context = mic_context()
    # What Chromium answers on a machine without any audio input.
    context.add_init_script(
        "if (navigator.mediaDevices) navigator.mediaDevices.getUserMedia = () =>"
        " Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));"
    )
    page = context.new_page()
    open_session(page, blu, api)
    start_call(page)
    assert "No microphone was found" in failure(page, "no-microphone")
    assert status(page) == "Couldn't start the call"
    screenshot(page, "voice-no-microphone")


def test_livekit_unreachable_and_a_dropped_call(
    mic_context: Callable[..., Any], blu: BluServer, api: BluClient
) -> None:
    page = mic_context().new_page()
    open_session(page, blu, api)
    start_call(page)
    wait_connect_pending(page)
    double(page, "d.fail('unreachable', 'could not establish signal connection')")
    assert "Couldn't reach the voice service (LiveKit)" in failure(page, "unreachable")
    screenshot(page, "voice-unreachable")

    page.get_by_role("button", name="Try again").click()
    wait_connect_pending(page)
    double(page, "d.accept()")
    double(page, "d.agentState('listening')")
    wait_state(page, "listening")
    double(page, "d.drop('SIGNAL_CLOSE')")
    text = failure(page, "dropped")
    assert "The call dropped" in text and "saved in the chat" in text
    assert status(page) == "Call ended"
    assert not page.get_by_test_id("voice-mute").is_visible()
    screenshot(page, "voice-dropped")
    page.get_by_role("button", name="Close voice mode").click()
    page.wait_for_selector("[data-testid=voice]", state="detached")


@pytest.fixture(scope="module")
def blu_real(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BluServer]:
    """Blu serving the production build (the real LiveKit adapter) with a LiveKit URL where nothing listens."""
    env = {**LIVEKIT_ENV, "LIVEKIT_URL": "wss://127.0.0.1:9"}
    server = BluServer(tmp_path_factory.mktemp("blu-voice-real") / "data", env=env).start()
    yield server
    server.stop()


def test_the_real_adapter_says_when_livekit_is_unreachable(
    new_context: ContextFactory, blu_real: BluServer, console: Any
) -> None:
    console.allow(r"127\.0\.0\.1:9/rtc")  # the refused validate request and WebSocket
    context = new_context(permissions=["microphone"])
    login_context(context, blu_real.url)
    page = context.new_page()
    sid = blu_real.client().new_session()
    open_app(page, blu_real.url, f"/#/s/{sid}")
    page.get_by_test_id("voice-button").click()
    text = failure(page, "unreachable")
    assert "Couldn't reach the voice service (LiveKit)" in text
    assert page.evaluate("() => window.voiceDouble") is None  # the production build has no double
    page.get_by_role("button", name="Close voice mode").click()
    page.wait_for_selector("[data-testid=voice]", state="detached")
