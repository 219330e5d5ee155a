"""The login throttle's client key behind proxies: API Gateway's `Forwarded` first, then X-Forwarded-For."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from runtime.api.deps import client_address
from runtime.settings import Settings


def request(*headers: tuple[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers]
    return Request({"type": "http", "headers": raw, "client": ("10.0.1.7", 40000), "method": "POST", "path": "/"})


@pytest.mark.parametrize(
    ("headers", "trusted", "expected"),
    [
        # API Gateway HTTP API → VPC link: the client only in Forwarded; the peer is the VPC link.
        ([("Forwarded", "by=10.0.0.9;for=203.0.113.5;host=x.execute-api.eu-west-1.amazonaws.com;proto=https")], True,
         "203.0.113.5"),
        # A client-written Forwarded entry comes first; the gateway's own is last.
        ([("Forwarded", 'for="198.51.100.1", for=203.0.113.5;proto=https')], True, "203.0.113.5"),
        ([("Forwarded", "for=203.0.113.5"), ("X-Forwarded-For", "10.0.0.9")], True, "203.0.113.5"),
        ([("X-Forwarded-For", "198.51.100.1, 203.0.113.5")], True, "203.0.113.5"),
        ([("Forwarded", "proto=https")], True, "10.0.1.7"),
        ([("Forwarded", "for=203.0.113.5"), ("X-Forwarded-For", "203.0.113.5")], False, "10.0.1.7"),
    ],
)  # fmt: skip
def test_client_address(headers: list[tuple[str, str]], trusted: bool, expected: str) -> None:
    settings = Settings(BLU_TRUST_FORWARDED_FOR=trusted)  # type: ignore[call-arg]
    assert client_address(request(*headers), settings) == expected
