"""Log lines are JSON with their context ids, and no secret gets through any logger path."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.observability.asgi import RequestContextMiddleware
from core.observability.logs import REDACTED, configure_logging, log_context, scrubber
from runtime.settings import Settings
from tests.support.emf import parse_emf, with_metric

OAUTH_TOKEN = "sk-ant-oat01-Zq8xY7wV6uT5sR4qP3oN2mL1kJ0iH9gF8eD7cB6aA5"
SESSION_SECRET = "cookie-signing-key-5f0c2e9a7b1d4c3e8f6a"
PASSWORD_HASH = "$2b$12$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"
GITHUB_TOKEN = "ghp_4f9KJ2nLmP0qRsT5uVwX8yZaBcDeFgHiJkLm"
COOKIE = "blu_session=eyJzaWduZWQiOiJ2YWx1ZSJ9.Zx9Yk2.abcDEF123456"
UNREGISTERED_KEY = "sk-ant-api03-NotRegisteredAnywhere_0123456789abcdef"
SECRETS = (OAUTH_TOKEN, SESSION_SECRET, PASSWORD_HASH, GITHUB_TOKEN, "eyJzaWduZWQiOiJ2YWx1ZSJ9", UNREGISTERED_KEY)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Blu's logging configured onto a buffer; the root logger and the scrubber are restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    settings = Settings(
        claude_code_oauth_token=OAUTH_TOKEN, session_secret=SESSION_SECRET, auth_password_hash=PASSWORD_HASH
    )
    configure_logging(level="DEBUG", secrets=(*settings.secret_values(), GITHUB_TOKEN), stream=out)
    yield out
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    scrubber.clear()


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_settings_list_every_secret_they_hold() -> None:
    settings = Settings(claude_code_oauth_token=OAUTH_TOKEN, session_secret=SESSION_SECRET)
    assert set(settings.secret_values()) == {OAUTH_TOKEN, SESSION_SECRET}


def test_runtime_logger_lines_are_json_with_context_and_without_secrets(stream: io.StringIO) -> None:
    log = logging.getLogger("runtime.agent.worker")
    with log_context(session_id="s1", turn_id="t1"):
        log.info("token is %s and hash %s", OAUTH_TOKEN, PASSWORD_HASH, extra={"secret_key": SESSION_SECRET})
        log.warning("headers: {'Authorization': 'Bearer %s', 'Cookie': '%s'}", GITHUB_TOKEN, COOKIE)
        log.info("the CLI said: invalid x-api-key %s", UNREGISTERED_KEY)
        log.info('body {"password": "hunter2-horse"}')
    log.info("outside any turn")
    entries = lines(stream)
    assert [e.get("session_id") for e in entries] == ["s1", "s1", "s1", "s1", None]
    assert entries[0]["turn_id"] == "t1" and entries[0]["logger"] == "runtime.agent.worker"
    assert entries[0]["message"] == f"token is {REDACTED} and hash {REDACTED}"
    assert entries[0]["secret_key"] == REDACTED
    assert "hunter2-horse" not in stream.getvalue()
    assert_clean(stream.getvalue())


def test_uvicorn_access_and_error_logs_are_scrubbed(stream: io.StringIO) -> None:
    # uvicorn's access logger formats (client, method, path, version, status) into its message.
    access = logging.getLogger("uvicorn.access")
    access.setLevel(logging.INFO)
    access.info('%s - "%s %s HTTP/%s" %d', "10.0.0.1", "GET", f"/api/x?key={OAUTH_TOKEN}", "1.1", 200)
    logging.getLogger("uvicorn.error").error("bad request header Cookie: %s", COOKIE)
    entries = lines(stream)
    assert [e["logger"] for e in entries] == ["uvicorn.access", "uvicorn.error"]
    assert_clean(stream.getvalue())


def test_tracebacks_are_scrubbed(stream: io.StringIO) -> None:
    def connect(token: str) -> None:
        raise RuntimeError(f"Claude rejected {token} (Authorization: Bearer {token})")

    try:
        connect(OAUTH_TOKEN)
    except RuntimeError:
        logging.getLogger("runtime").exception("turn failed for %s", SESSION_SECRET)
    (entry,) = lines(stream)
    assert "RuntimeError: Claude rejected" in entry["exception"]
    assert_clean(stream.getvalue())


def test_a_request_has_an_id_on_its_lines_and_a_failure_counts_as_an_http_error(
    stream: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    app = FastAPI()

    @app.get("/fine")
    def fine() -> dict[str, str]:
        logging.getLogger("runtime.api").info("serving")
        return {}

    @app.get("/boom")
    def boom() -> dict[str, str]:
        raise RuntimeError(f"leaked {GITHUB_TOKEN}")

    app.add_middleware(RequestContextMiddleware)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/fine", headers={"x-request-id": "req-abc"}).status_code == 200
        assert client.get("/boom").status_code == 500
    serving = next(e for e in lines(stream) if e["message"] == "serving")
    assert serving["request_id"] == "req-abc"
    errors = with_metric(parse_emf(capsys.readouterr().out), "Errors")
    assert [r.dimensions for r in errors] == [{"Kind": "http"}]
    assert_clean(stream.getvalue())


def test_lambda_logger_is_scrubbed_including_secrets_read_from_the_secret() -> None:
    from lambdas.common.secret import SecretReader
    from lambdas.common.telemetry import logger

    class Client:
        def get_secret_value(self, SecretId: str) -> dict[str, str]:
            return {"SecretString": json.dumps({"SESSION_SECRET": SESSION_SECRET, "GITHUB_TOKEN": GITHUB_TOKEN})}

    # The handler keeps the stdout it was created with (maybe another test's capture): point it here.
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        assert SecretReader(Client(), "arn").get("SESSION_SECRET") == SESSION_SECRET
        logger.info("signing with %s", SESSION_SECRET, extra={"token": GITHUB_TOKEN, "cookie": COOKIE})
        try:
            raise ValueError(f"bad key {UNREGISTERED_KEY}")
        except ValueError:
            logger.exception("login failed with Authorization: Bearer %s", OAUTH_TOKEN)
    finally:
        scrubber.clear()
        handler.setStream(previous)
    out = buffer.getvalue()
    entries = [json.loads(line) for line in out.splitlines()]
    assert len(entries) == 2 and entries[1]["exception_name"] == "ValueError"
    assert_clean(out)
