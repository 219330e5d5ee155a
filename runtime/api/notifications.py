"""Notifications: the VAPID public key, push subscriptions, which kinds the person gets, a test, and presence."""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.store.models import NOTIFICATION_KINDS, NotificationKind, NotificationPreferences, PushSubscriptionRecord
from runtime.api.deps import LoginRequired, StateDep, StoreDep, record_user_action
from runtime.api.errors import error_responses
from runtime.api.sessions import SESSION_ID
from runtime.notify.notifier import Notice, SendReport
from runtime.notify.push import endpoint_host
from runtime.notify.vapid import b64url_decode

router = APIRouter(prefix="/api/notifications", tags=["notifications"], dependencies=LoginRequired)
Acted = [Depends(record_user_action)]  # a person's action keeps Blu awake; reading state and presence do not

MAX_ENDPOINT_CHARS = 2048
MAX_SUBSCRIPTIONS = 20  # browsers and phones; subscribing one more drops the oldest
SUBSCRIPTION_ID = r"^[0-9a-f]{32}$"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

KIND_LABELS: dict[str, str] = {
    "turn_finished": "A reply is ready after you left the page",
    "schedule_finished": "A scheduled run finished",
    "schedule_failed": "A scheduled run failed",
    "approval_waiting": "An approval or a question is waiting for you",
}
assert set(KIND_LABELS) == set(NOTIFICATION_KINDS)


def subscription_id(endpoint: str) -> str:
    """One record per endpoint: the same browser subscribing again replaces its record."""
    return hashlib.sha256(endpoint.encode("utf-8")).hexdigest()[:32]


def check_endpoint(value: str) -> str:
    """A push service URL: https (plain http only to this machine, for local push stand-ins), no credentials,
    and not an address inside a private network (Blu would POST there)."""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as exc:
        raise ValueError("endpoint is not a valid URL") from exc
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return value
    if parts.scheme != "https" or not host:
        raise ValueError("endpoint must be an https:// URL of a push service")
    if parts.username or parts.password or parts.fragment:
        raise ValueError("endpoint must not carry credentials or a fragment")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return value  # a host name: push services have them
    if not address.is_global:
        raise ValueError("endpoint must not point into a private network")
    return value


class SubscriptionKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Checked by decoding (below), which says what is wrong better than a pattern would.
    p256dh: str = Field(max_length=88, description="The browser's P-256 public key, uncompressed, base64url")
    auth: str = Field(max_length=24, description="The browser's 16-byte auth secret, base64url")

    @field_validator("p256dh")
    @classmethod
    def _point(cls, value: str) -> str:
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(value))
        except ValueError as exc:  # also binascii.Error and UnicodeEncodeError
            raise ValueError("p256dh is not an uncompressed P-256 public key") from exc
        return value

    @field_validator("auth")
    @classmethod
    def _secret(cls, value: str) -> str:
        try:
            raw = b64url_decode(value)
        except ValueError as exc:
            raise ValueError("auth is not base64url") from exc
        if len(raw) != 16:
            raise ValueError("auth must be 16 bytes")
        return value


class NewSubscription(BaseModel):
    """A browser's `PushSubscription.toJSON()`, as is."""

    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field(min_length=1, max_length=MAX_ENDPOINT_CHARS)
    expirationTime: float | None = None  # the browser's name for it
    keys: SubscriptionKeys

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return check_endpoint(value)


class Unsubscribe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field(min_length=1, max_length=MAX_ENDPOINT_CHARS)


class Preferences(BaseModel):
    """Kinds to switch on (true) or off (false); kinds left out keep their setting."""

    model_config = ConfigDict(extra="forbid")
    kinds: dict[NotificationKind, bool]


class TestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: str | None = Field(None, max_length=MAX_ENDPOINT_CHARS, description="Only this browser; default all")


class PresenceReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: str = Field(pattern=r"^[0-9a-f]{16,64}$", description="A random id the page keeps while open")
    session_id: str | None = Field(None, pattern=SESSION_ID, description="The session the page shows")
    visible: bool


class Kind(BaseModel):
    kind: NotificationKind
    label: str
    enabled: bool


class Device(BaseModel):
    id: str
    push_service: str
    user_agent: str
    created_at: float


class NotificationState(BaseModel):
    public_key: str = Field(description="The VAPID public key: PushManager.subscribe's applicationServerKey")
    kinds: list[Kind]
    devices: list[Device]


class Subscribed(BaseModel):
    id: str


class TestResult(BaseModel):
    sent: int
    dropped: int = Field(description="Subscriptions the push service no longer knows: deleted")
    retrying: int
    failed: int


async def _state(state: StateDep) -> NotificationState:
    preferences = await state.store.get_notification_preferences()
    subscriptions = await state.store.list_push_subscriptions()
    return NotificationState(
        public_key=await state.notifier.public_key(),
        kinds=[Kind(kind=k, label=KIND_LABELS[k], enabled=preferences.wants(k)) for k in NOTIFICATION_KINDS],  # type: ignore[arg-type]
        devices=[
            Device(id=s.id, push_service=endpoint_host(s.endpoint), user_agent=s.user_agent, created_at=s.created_at)
            for s in subscriptions
        ],
    )


@router.get("")
async def notification_state(state: StateDep) -> NotificationState:
    """The key to subscribe with, the kinds and whether each is on, and the subscribed browsers."""
    return await _state(state)


@router.post("/subscriptions", status_code=status.HTTP_201_CREATED, dependencies=Acted)
async def subscribe(body: NewSubscription, store: StoreDep, user_agent: Annotated[str, Header()] = "") -> Subscribed:
    """Keep a browser's subscription; the same endpoint again replaces it (new keys after a re-subscribe)."""
    record = PushSubscriptionRecord(
        id=subscription_id(body.endpoint),
        endpoint=body.endpoint,
        p256dh=body.keys.p256dh,
        auth=body.keys.auth,
        user_agent=user_agent[:200],
    )
    await store.put_push_subscription(record)
    subscriptions = await store.list_push_subscriptions()
    for old in [s for s in subscriptions if s.id != record.id][: max(0, len(subscriptions) - MAX_SUBSCRIPTIONS)]:
        await store.delete_push_subscription(old.id)
    return Subscribed(id=record.id)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    dependencies=Acted,
    responses=error_responses(404),
)
async def remove_device(subscription_id: Annotated[str, Path(pattern=SUBSCRIPTION_ID)], store: StoreDep) -> Response:
    if not await store.delete_push_subscription(subscription_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such subscription.")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/unsubscribe", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, dependencies=Acted)
async def unsubscribe(body: Unsubscribe, store: StoreDep) -> Response:
    """Forget this browser's subscription (the page calls it after PushSubscription.unsubscribe()); idempotent."""
    await store.delete_push_subscription(subscription_id(body.endpoint))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/preferences", dependencies=Acted)
async def set_preferences(body: Preferences, state: StateDep) -> NotificationState:
    current = await state.store.get_notification_preferences()
    kinds = {**current.kinds, **{str(kind): on for kind, on in body.kinds.items()}}
    await state.store.set_notification_preferences(NotificationPreferences(kinds=kinds))
    return await _state(state)


@router.post("/test", dependencies=Acted, responses=error_responses(404))
async def send_test(state: StateDep, body: TestRequest | None = None) -> TestResult:
    """Send a test notification now, whatever the preferences, and say what each push service answered."""
    subscriptions = await state.store.list_push_subscriptions()
    only = frozenset(s.id for s in subscriptions)
    if body is not None and body.endpoint is not None:
        only = only & {subscription_id(body.endpoint)}
    if not only:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No browser has notifications enabled.")
    notice = Notice("test", "Blu", "Notifications work. Tap to open Blu.", "/", tag="test")
    report: SendReport = await state.notifier.send_now(notice, only)
    return TestResult(
        sent=len(report.sent), dropped=len(report.dropped), retrying=len(report.retrying), failed=len(report.failed)
    )


@router.post("/presence", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def report_presence(body: PresenceReport, state: StateDep) -> Response:
    """What a page shows and whether it is visible; decides the "turn finished" notification. Not a person's
    action: a visible tab must not keep Blu awake."""
    state.presence.report(body.page, body.session_id, body.visible)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
