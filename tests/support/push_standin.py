"""A local push service speaking the Web Push protocol: it checks VAPID, decrypts aes128gcm, answers as scripted.

A test plays the browser too: `subscribe()` makes a subscription (a P-256 key pair and an auth secret, as
PushManager.subscribe would) whose endpoint is this server. A POST to it must carry `Authorization: vapid
t=<JWT>,k=<key>` (RFC 8292) with a valid ES256 signature by the key the subscription was made with, an `aud`
of this server's origin, an `exp` within 24 hours and a `sub`; `Content-Encoding: aes128gcm` and a `TTL`.
The body is decrypted with the subscription's private key (RFC 8291). Each request is recorded; the answer
is the next scripted status for that subscription (201 when none is left), or 400/401/403 when a check fails.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class BrowserSubscription:
    """What one browser holds: its keys (the private one never leaves it) and the endpoint."""

    token: str
    endpoint: str
    application_server_key: str  # the VAPID public key it subscribed with
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    script: deque[int] = field(default_factory=deque)

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return _b64(point)

    def to_json(self) -> dict[str, Any]:
        """`PushSubscription.toJSON()`."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": _b64(self.auth_secret)},
        }


@dataclass(frozen=True)
class Received:
    token: str
    status: int  # what the stand-in answered
    headers: dict[str, str]
    claims: dict[str, Any]
    plaintext: bytes | None  # None when a check failed before decryption
    problem: str = ""

    def json(self) -> dict[str, Any]:
        assert self.plaintext is not None, self.problem
        data: dict[str, Any] = json.loads(self.plaintext)
        return data


def verify_vapid(authorization: str, *, audience: str, expected_key: str, now: float) -> dict[str, Any]:
    """The JWT's claims; raises ValueError saying what is wrong."""
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise ValueError(f"scheme {scheme!r} is not vapid")
    parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
    token, key = parts.get("t", ""), parts.get("k", "")
    if key != expected_key:
        raise ValueError("k is not the key the subscription was made with")
    header_b64, claims_b64, signature_b64 = token.split(".")
    header = json.loads(_unb64(header_b64))
    if header.get("alg") != "ES256":
        raise ValueError(f"alg {header.get('alg')!r} is not ES256")
    signature = _unb64(signature_b64)
    if len(signature) != 64:
        raise ValueError("an ES256 signature is 64 bytes")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(key))
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public.verify(der, f"{header_b64}.{claims_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise ValueError("the JWT's signature does not verify") from exc
    claims: dict[str, Any] = json.loads(_unb64(claims_b64))
    if claims.get("aud") != audience:
        raise ValueError(f"aud {claims.get('aud')!r} is not {audience!r}")
    if not now < float(claims.get("exp", 0)) <= now + 24 * 3600:
        raise ValueError("exp is not within the next 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise ValueError("sub is not a mailto: or https: contact")
    return claims


class PushStandin:
    """`with PushStandin() as push:`; `push.subscribe(vapid_public_key)`, `push.answer(sub, 410)`, `push.wait(n)`;
    `push.hold()` keeps answers back until `push.release()`."""

    def __init__(self) -> None:
        self._subscriptions: dict[str, BrowserSubscription] = {}
        self.received: list[Received] = []
        self._changed = threading.Condition()
        self._open = threading.Event()  # cleared by hold(): answers wait until release()
        self._open.set()
        self.arrived = 0  # requests received, answered or held
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with standin._changed:
                    standin.arrived += 1
                    standin._changed.notify_all()
                standin._open.wait()
                status = standin._handle(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                if status == 201:
                    self.send_header("Location", f"{standin.url}/message/{os.urandom(4).hex()}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> PushStandin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._open.set()
        self._server.shutdown()
        self._server.server_close()

    def subscribe(self, application_server_key: str) -> BrowserSubscription:
        token = os.urandom(8).hex()
        subscription = BrowserSubscription(
            token=token,
            endpoint=f"{self.url}/push/{token}",
            application_server_key=application_server_key,
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
        )
        self._subscriptions[token] = subscription
        return subscription

    def answer(self, subscription: BrowserSubscription, *statuses: int) -> None:
        """The statuses the next deliveries to `subscription` get, in order (then 201 again)."""
        subscription.script.extend(statuses)

    def hold(self) -> None:
        """Keep every request waiting for its answer (a slow push service) until release()."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def wait_arrived(self, count: int, timeout: float = 60.0) -> None:
        """Block until `count` requests arrived, answered or not."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.arrived >= count, timeout=timeout):
                raise AssertionError(f"expected {count} requests, {self.arrived} arrived")

    def wait(self, count: int, timeout: float = 60.0) -> list[Received]:
        """Block until at least `count` requests arrived; returns all of them."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout=timeout):
                raise AssertionError(f"expected {count} pushes, got {len(self.received)}: {self.received}")
            return list(self.received)

    def _record(self, received: Received) -> int:
        with self._changed:
            self.received.append(received)
            self._changed.notify_all()
        return received.status

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        token = path.removeprefix("/push/")
        subscription = self._subscriptions.get(token)
        if subscription is None:
            return self._record(Received(token, 404, headers, {}, None, "unknown subscription"))
        try:
            claims = verify_vapid(
                headers.get("authorization", ""),
                audience=self.url,
                expected_key=subscription.application_server_key,
                now=time.time(),
            )
        except (ValueError, KeyError) as exc:
            return self._record(Received(token, 401, headers, {}, None, str(exc)))
        if headers.get("content-encoding") != "aes128gcm" or not headers.get("ttl", "").isdigit():
            return self._record(Received(token, 400, headers, claims, None, "Content-Encoding or TTL missing"))
        try:
            plaintext = http_ece.decrypt(
                body, private_key=subscription.private_key, auth_secret=subscription.auth_secret, version="aes128gcm"
            )
        except Exception as exc:
            return self._record(Received(token, 400, headers, claims, None, f"cannot decrypt: {exc}"))
        status = subscription.script.popleft() if subscription.script else 201
        return self._record(Received(token, status, headers, claims, plaintext))
