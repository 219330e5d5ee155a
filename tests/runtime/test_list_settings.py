"""List settings read in the form the README documents (comma-separated), and the server starts with them."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from runtime.settings import Settings
from tests.support.server import BluServer

README = Path(__file__).resolve().parents[2] / "README.md"


def _list_settings() -> dict[str, str]:
    """env var -> field name of every setting that holds a list."""
    found = {}
    for name, field in Settings.model_fields.items():
        if typing.get_origin(field.annotation) is tuple:
            found[str(field.validation_alias.choices[0])] = name  # type: ignore[union-attr]
    return found


def test_every_list_setting_is_documented_as_comma_separated() -> None:
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `")]
    lists = _list_settings()
    assert lists, "no list settings found: the test no longer sees them"
    for variable in lists:
        row = next(row for row in rows if f"`{variable}`" in row)
        assert "comma-separated" in row


@pytest.mark.parametrize("variable", sorted(_list_settings()))
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bash", ("Bash",)),
        ("Bash,WebFetch", ("Bash", "WebFetch")),
        (" Bash , WebFetch ,", ("Bash", "WebFetch")),
        ('["Bash", "WebFetch"]', ("Bash", "WebFetch")),
        ("", ()),
    ],
)
def test_list_settings_read_the_documented_form(
    variable: str, raw: str, expected: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, raw)
    assert getattr(Settings(), _list_settings()[variable]) == expected


def test_a_disallowed_tool_is_refused_in_a_turn(fresh_server: BluServer) -> None:
    fresh_server.env["BLU_DISALLOWED_TOOLS"] = "Bash,WebFetch"
    api = fresh_server.start().client()
    sid = api.new_session()
    status, events = api.turn(sid, "[[bash cmd='touch made-by-bash']]")
    assert status["status"] == "complete"
    result = next(e["data"] for e in events if e["type"] == "tool.result")
    assert result["name"] == "Bash" and result["outcome"] != "ok"
    assert not (fresh_server.data_dir / "workspace" / "made-by-bash").exists()
    assert re.search(r"Bash", api.messages(sid)[-1]["text"])
