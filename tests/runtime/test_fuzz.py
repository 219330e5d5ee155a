"""Schemathesis against the served OpenAPI schema: no input gets a 5xx, every answered status is documented, and
every answer (body and content type) is what the schema says."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case

from runtime.standin import StandinServer
from tests.runtime.conftest import model_env
from tests.support.server import BluClient, BluServer

EXAMPLES = 30  # per operation; about 15 s for the whole API


@pytest.fixture(scope="module")
def fuzzed_server(model: StandinServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BluServer]:
    """A Blu of its own (the fuzz makes many sessions), with voice configured so tokens can be issued."""
    voice = {"LIVEKIT_URL": "wss://fuzz.example", "LIVEKIT_API_KEY": "fuzz-key", "LIVEKIT_API_SECRET": "x" * 32}
    server = BluServer(tmp_path_factory.mktemp("fuzz") / "data", env={**model_env(model), **voice}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fuzzed(fuzzed_server: BluServer) -> tuple[BluClient, str]:
    api = fuzzed_server.client()
    return api, api.new_session()


def test_no_input_gets_a_server_error(fuzzed_server: BluServer, fuzzed: tuple[BluClient, str]) -> None:
    """Each operation of the schema, fuzzed on its own (schemathesis's pytest plugin predates pytest 9)."""
    api, session = fuzzed
    blu = fuzzed_server
    headers = {"Cookie": f"blu_session={api.http.cookies['blu_session']}"}
    schema = schemathesis.openapi.from_url(f"{blu.url}/api/openapi.json", headers=headers)
    failures: dict[str, str] = {}
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), "the schema has operations it cannot read"
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) >= 15

    for operation in operations:
        if operation.path == "/api/logout":
            continue  # a valid cookie would end this run's login

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Case) -> None:
            if case.path_parameters and "session_id" in case.path_parameters and case.method != "DELETE":
                case.path_parameters["session_id"] = session  # a real session, so the fuzz reaches past 404
            if case.operation.get_parameter("wait", "query") is not None:
                # A long-poll answers at once: a case that leaves `wait` out would sit out the default (25 s)
                # for the answer wait=0 gives when nothing happens (half the cases: ~6 minutes of the suite).
                case.query = {**(case.query or {}), "wait": 0}
            case.call_and_validate(
                base_url=blu.url,
                headers=headers,
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
                timeout=30,
            )

        try:
            run()
        except Exception as exc:
            failures[f"{operation.method.upper()} {operation.path}"] = str(exc)[:1500]
    assert not failures, "\n\n".join(f"{name}: {text}" for name, text in failures.items())
