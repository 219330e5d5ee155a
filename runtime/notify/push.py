"""One Web Push delivery (RFC 8030 + RFC 8291 aes128gcm payload + RFC 8292 VAPID) and what its answer means."""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import requests

from core.store.models import PushSubscriptionRecord
from runtime.notify.vapid import Signer

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 10.0
# How long a push service keeps an undelivered notification (a phone that is off): a day.
TTL_SECONDS = 24 * 3600
MAX_RETRY_AFTER_SECONDS = 3600.0

Outcome = Literal["sent", "gone", "retry", "failed"]


@dataclass(frozen=True)
class Delivery:
    """`gone`: the push service says the subscription no longer exists (404/410), drop it; `retry`: later
    (429, 5xx, no answer), after `retry_after` seconds when the service said; `failed`: refused for good."""

    outcome: Outcome
    status: int | None = None
    retry_after: float | None = None
    detail: str = ""


def endpoint_host(endpoint: str) -> str:
    """The push service's host: what logs may say of an endpoint (the path is a capability)."""
    return urlsplit(endpoint).hostname or "?"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def deliver(
    subscription: PushSubscriptionRecord,
    payload: bytes,
    signer: Signer,
    *,
    session: requests.Session,
    urgency: str = "normal",
) -> Delivery:
    """POST the encrypted payload to the subscription's push service. Blocking: run it in a thread.
    Never raises for what the network or the service does."""
    # pywebpush brings aiohttp (~0.4 s of imports): loaded at the first push, not when the web server starts.
    from pywebpush import WebPusher, WebPushException

    info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
    headers = {**signer.headers(subscription.endpoint), "Urgency": urgency}
    try:
        response = WebPusher(info, requests_session=session).send(
            payload, headers, ttl=TTL_SECONDS, content_encoding="aes128gcm", timeout=SEND_TIMEOUT_SECONDS
        )
    except requests.RequestException as exc:
        return Delivery("retry", detail=f"no answer ({type(exc).__name__})")
    except (WebPushException, ValueError) as exc:  # keys that do not make a P-256 point
        return Delivery("failed", detail=f"could not encrypt for this subscription ({type(exc).__name__})")
    if isinstance(response, str):  # only with curl=True, never used
        return Delivery("failed", detail="no request was made")
    status = response.status_code
    if status in (200, 201, 202):
        return Delivery("sent", status)
    if status in (404, 410):
        return Delivery("gone", status)
    if status == 429 or status >= 500:
        return Delivery("retry", status, _retry_after(response.headers.get("Retry-After")))
    return Delivery("failed", status, detail=response.text[:200])
