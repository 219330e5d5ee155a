"""The composer on a 390×844 phone while a reply streams: Stop and Send leave the message box a usable width."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.server import BluServer
from tests.web.conftest import PHONE, AppPage
from tests.web.helpers import send, wait_last_assistant

pytestmark = pytest.mark.browser

BOX = """() => {
  const box = document.querySelector('#composer-input');
  const style = getComputedStyle(box);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const inner = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return { width: box.getBoundingClientRect().width, inner, placeholder: ctx.measureText(box.placeholder).width,
           viewport: window.innerWidth };
}"""


def test_the_message_box_keeps_its_width_beside_stop_and_send_on_a_phone(app_page: AppPage, blu: BluServer) -> None:
    page = app_page(blu, "/#/new", viewport=PHONE, is_mobile=True, has_touch=True)
    context = page.context
    send(page, "a long one [[slow ms=200]] [[words n=200]]")
    wait_last_assistant(page, "running")
    stop = page.get_by_role("button", name="Stop the running turn")
    stop.wait_for()
    assert page.get_by_role("button", name="Send message").is_visible()  # a message can be queued meanwhile
    box: dict[str, Any] = page.evaluate(BOX)
    # Icons only beside it: two fifths of the screen at least (about 110 px with the words), and the
    # placeholder on one line.
    assert box["width"] >= box["viewport"] * 0.4, box
    assert box["placeholder"] <= box["inner"], box
    stop.click()
    wait_last_assistant(page, "interrupted")
    context.close()
