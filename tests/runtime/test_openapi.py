"""The OpenAPI document and the UI's generated types are checked in, and must be what the code gives now."""

from __future__ import annotations

import json

import httpx
import pytest

from scripts.openapi import SCHEMA_FILE, TYPES_FILE, app_schema, generate_types, render_schema
from tests.support.server import BluClient, BluServer

STALE = "is not what the code gives: run `make api` (python -m scripts.openapi) and commit the result"


@pytest.fixture(scope="module")
def schema_text() -> str:
    return render_schema(app_schema())


def test_the_checked_in_schema_is_the_apps(schema_text: str) -> None:
    assert SCHEMA_FILE.read_text() == schema_text, f"docs/openapi.json {STALE}"


def test_the_checked_in_types_are_generated_from_the_apps_schema(schema_text: str) -> None:
    assert TYPES_FILE.read_text() == generate_types(schema_text), f"web/src/generated/api.ts {STALE}"


def test_the_served_schema_is_behind_the_login_and_is_the_checked_in_one(blu: BluServer, api: BluClient) -> None:
    assert httpx.get(f"{blu.url}/api/openapi.json").status_code == 401
    served = api.http.get("/api/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(SCHEMA_FILE.read_text())


def test_every_answer_has_a_named_model(schema_text: str) -> None:
    """A route returning a bare dict would show as an untyped object here, and as `unknown`-ish in the UI."""
    untyped = []
    for path, operations in json.loads(schema_text)["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                content = response.get("content", {})
                if not code.startswith("2") or "application/json" not in content:
                    continue  # 204, and the file's bytes (application/octet-stream)
                if "$ref" not in content["application/json"]["schema"]:
                    untyped.append(f"{method.upper()} {path} {code}")
    assert untyped == []


def test_events_are_one_union_discriminated_on_type(schema_text: str) -> None:
    schemas = json.loads(schema_text)["components"]["schemas"]
    events = schemas["EventsPage"]["properties"]["events"]["items"]
    mapping = events["discriminator"]["mapping"]
    assert events["discriminator"]["propertyName"] == "type"
    assert sorted(mapping) == sorted(
        [
            "turn.status",
            "message.delta",
            "tool.call",
            "tool.result",
            "message.complete",
            "message.updated",
            "session.updated",
            "session.deleted",
            "artifact.changed",
            "memory.changed",
            "approval.requested",
            "approval.resolved",
            "error",
        ]
    )
    for name, ref in mapping.items():
        member = schemas[ref.rsplit("/", 1)[1]]
        assert member["properties"]["type"]["const"] == name
        assert member["additionalProperties"] is False
