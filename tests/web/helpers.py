"""What a person does and sees in the UI, as small functions the browser tests share."""

from __future__ import annotations

import re
from typing import Any

SESSION_URL = re.compile(r"#/s/([0-9a-f]{24})$")


def open_app(page: Any, url: str, path: str = "/") -> None:
    page.goto(url + path)
    page.wait_for_selector("html[data-ready=app]")


def session_id(page: Any) -> str:
    match = SESSION_URL.search(page.url)
    assert match, f"no session in {page.url}"
    return match.group(1)


def send(page: Any, text: str) -> None:
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")


def words(text: str) -> str:
    return " ".join(text.split())


def assistant_messages(page: Any) -> Any:
    return page.locator("li.msg--assistant")


TEXT_OF_BODY = "b => [...b.querySelectorAll(':scope > .msg__text')].map((e) => e.innerText).join('\\n')"


def body_of(message: Any) -> str:
    """The message's text (its tool cards left out)."""
    return words(message.locator(".msg__body").evaluate(TEXT_OF_BODY))


def wait_last_assistant(page: Any, state: str, timeout: float = 30_000) -> Any:
    page.wait_for_selector(f"li.msg--assistant:last-child[data-state={state}]", timeout=timeout)
    return assistant_messages(page).last


def wait_idle(page: Any, timeout: float = 30_000) -> None:
    """No turn running or queued in the open session."""
    page.wait_for_selector("[data-testid=chat-status][data-state=idle]", state="attached", timeout=timeout)


def streamed_text_samples(page: Any, count: int = 3) -> list[str]:
    """The assistant's text at a few moments while it is still running (each one must grow)."""
    samples: list[str] = []
    for _ in range(count):
        previous = len(samples[-1]) if samples else 0
        page.wait_for_function(
            """(n) => {
                const m = [...document.querySelectorAll('li.msg--assistant')].pop();
                const texts = m ? [...m.querySelectorAll('.msg__body > .msg__text')].map((e) => e.innerText) : [];
                return m && m.dataset.state === 'running' && texts.join(' ').trim().length > n;
            }""",
            arg=previous,
            timeout=15_000,
        )
        samples.append(body_of(assistant_messages(page).last))
    return samples
