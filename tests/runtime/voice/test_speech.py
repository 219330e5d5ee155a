"""The spoken form of a reply: prose streams, code and tables are mentioned, Markdown is not read out."""

from __future__ import annotations

import pytest

from runtime.voice.speech import CODE_MENTION, LONG_LINE_MENTION, TABLE_MENTION, SpeechShaper, speakable


def spoken(text: str) -> str:
    return " ".join(speakable(text).split())


@pytest.mark.parametrize(
    ("reply", "heard"),
    [
        ("Plain words.", "Plain words."),
        ("# Title\n\nSome **bold** and `code` words.", "Title Some bold and code words."),
        ("- one\n- two\n1. three", "one two three"),
        ("See [the docs](https://example.com/x) now.", "See the docs now."),
        ("Open https://example.com/very/long now.", "Open the link in the chat now."),
        ("```\nrm -rf /tmp/x\n```", CODE_MENTION),
        ("Before.\n~~~sh\nls\n~~~\nAfter.", f"Before. {CODE_MENTION} After."),
        ("| a | b |\n|---|---|\n| 1 | 2 |\nAfter.", f"{TABLE_MENTION} After."),
        ("Hash " + "a" * 64 + " done.", f"Hash {LONG_LINE_MENTION} done."),
    ],
)
def test_the_spoken_form(reply: str, heard: str) -> None:
    assert spoken(reply) == heard


def test_code_split_across_deltas_is_never_spoken() -> None:
    reply = "Run this:\n```python\nprint('do not say me')\n```\nThen we are done."
    for size in (1, 2, 3, 7):
        shaper = SpeechShaper()
        pieces = [shaper.feed(reply[i : i + size]) for i in range(0, len(reply), size)] + [shaper.finish()]
        said = " ".join("".join(pieces).split())
        assert said == f"Run this: {CODE_MENTION} Then we are done.", size


def test_prose_is_passed_on_before_the_line_ends() -> None:
    shaper = SpeechShaper()
    assert shaper.feed("The first sentence is here. And the sec") == "The first sentence is here. And the "
    assert shaper.feed("ond one. Third") == "second one. "
    assert shaper.finish().strip() == "Third"


def test_a_line_that_may_open_a_fence_or_table_is_held_until_it_ends() -> None:
    shaper = SpeechShaper()
    assert shaper.feed("`") == "" and shaper.feed("``py") == ""
    assert shaper.feed("thon\nx = 1\n") == f" {CODE_MENTION} "
    assert shaper.mentions == [CODE_MENTION]
