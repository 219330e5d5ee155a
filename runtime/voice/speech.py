"""What of a reply is read aloud: prose, as it streams; code, tables and raw output get a short mention."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CODE_MENTION = "I've put the code in the chat."
TABLE_MENTION = "I've put a table in the chat."
LONG_LINE_MENTION = "The details are in the chat."
# A line this long without a space is a path, a URL, a hash or output, not something to hear.
MAX_SPOKEN_TOKEN = 40

_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE = re.compile(r"^\s*\|")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_QUOTE = re.compile(r"^\s*>\s?")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~|`)")
_URL = re.compile(r"https?://\S+")


@dataclass
class SpeechShaper:
    """Turns a streamed Markdown reply into the text to speak, without waiting for the whole reply.

    Prose is passed on word by word (the TTS side groups it into sentences). A line that could open
    a code fence or a table is held until it ends; code blocks and tables are replaced by one short
    mention each, so a person hears that there is code without hearing the code.
    """

    _line: str = ""
    _spoken_upto: int = 0  # characters of the current line already passed on
    _in_code: bool = False
    _in_table: bool = False
    _mentions: list[str] = field(default_factory=list)

    def feed(self, delta: str) -> str:
        """Add reply text; returns what can be spoken now (possibly "")."""
        out: list[str] = []
        for piece in delta.splitlines(keepends=True):
            self._line += piece
            if self._line.endswith("\n"):
                out.append(self._finish_line())
            else:
                out.append(self._partial())
        return "".join(out)

    def finish(self) -> str:
        """The rest of the reply once it ends."""
        if not self._line:
            return ""
        self._line += "\n"
        return self._finish_line()

    def _held(self) -> bool:
        """Whether the current line must be seen whole before any of it is spoken."""
        stripped = self._line.lstrip()
        if self._in_code or self._in_table:
            return True
        return not stripped or stripped[0] in "`~|"

    def _partial(self) -> str:
        if self._held():
            return ""
        # Pass on complete words only, so Markdown split across deltas is cleaned whole.
        cut = max(self._line.rfind(" "), self._line.rfind("\t"))
        if cut < self._spoken_upto or _LINK_OPEN.search(self._line[self._spoken_upto :]):
            return ""
        chunk = self._line[self._spoken_upto : cut + 1]
        first = self._spoken_upto == 0
        self._spoken_upto = cut + 1
        return _clean(chunk, line_start=first)

    def _finish_line(self) -> str:
        line, start = self._line, self._spoken_upto
        self._line, self._spoken_upto = "", 0
        if _FENCE.match(line):
            self._in_code = not self._in_code
            return self._mention(CODE_MENTION) if self._in_code else ""
        if self._in_code:
            return ""
        if _TABLE.match(line):
            if not self._in_table:
                self._in_table = True
                return self._mention(TABLE_MENTION)
            return ""
        self._in_table = False
        rest = line[start:]
        if not rest.strip():
            return "\n" if start == 0 else " "
        return _clean(rest, line_start=start == 0).rstrip() + " "

    def _mention(self, text: str) -> str:
        self._mentions.append(text)
        return f" {text} "

    @property
    def mentions(self) -> list[str]:
        return list(self._mentions)


_LINK_OPEN = re.compile(r"\[[^\]]*$|\]\([^)]*$")


def _clean(text: str, *, line_start: bool) -> str:
    if line_start:
        for pattern in (_HEADING, _BULLET, _QUOTE):
            text = pattern.sub("", text, count=1)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("the link in the chat", text)
    text = _EMPHASIS.sub("", text)
    words = [LONG_LINE_MENTION if len(word) > MAX_SPOKEN_TOKEN else word for word in text.split(" ")]
    return " ".join(words)


def speakable(reply: str) -> str:
    """The spoken form of a whole reply (for tests and for replies that arrive in one piece)."""
    shaper = SpeechShaper()
    return (shaper.feed(reply) + shaper.finish()).strip()
