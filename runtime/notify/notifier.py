"""The Notifier: queues notifications and delivers them off the caller's path, dropping dead subscriptions."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import requests

from core.observability.logs import scrubber
from core.store.aio import AsyncStore
from core.store.models import NOTIFICATION_KINDS, PushSubscriptionRecord, VapidKeys, truncate_text
from runtime.notify.push import Delivery, deliver, endpoint_host
from runtime.notify.vapid import Signer, generate_keys

log = logging.getLogger(__name__)

# Push services take 4096 bytes of encrypted payload (RFC 8291 adds 86 or more): keep the JSON under this.
MAX_PAYLOAD_BYTES = 3000
MAX_TITLE_BYTES = 120
MAX_BODY_BYTES = 600
# Delays before each retry of a delivery the push service asked to repeat (429, 5xx, no answer).
RETRY_DELAYS_SECONDS: tuple[float, ...] = (30.0, 120.0, 600.0)
QUEUE_LIMIT = 500  # notices waiting to be sent; beyond it new ones are dropped (and logged)


@dataclass(frozen=True)
class Notice:
    """One notification. `url` is a path of Blu's (e.g. `/#/s/<session id>`): the click opens it. `tag` makes a
    later notice with the same tag replace an earlier one on the device (e.g. one per session)."""

    kind: str
    title: str
    body: str
    url: str = "/"
    tag: str | None = None
    at: float = field(default_factory=time.time)

    def payload(self) -> bytes:
        """The JSON the service worker (web/public/sw.js) shows, cut to fit a push message."""
        title = truncate_text(self.title, MAX_TITLE_BYTES)[0]
        body = truncate_text(self.body, MAX_BODY_BYTES)[0]
        data = {"kind": self.kind, "title": title, "body": body, "url": self.url, "tag": self.tag, "at": self.at}
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if len(raw) > MAX_PAYLOAD_BYTES:  # a very long url or tag: send the essentials only
            data = {"kind": self.kind, "title": title, "body": body[:200], "url": "/", "tag": None, "at": self.at}
            raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return raw


@dataclass
class SendReport:
    """What one round of deliveries did, by subscription id."""

    sent: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # the push service said gone (404/410): deleted
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Job:
    notice: Notice
    only: frozenset[str] | None = None  # subscription ids (a retry); None: every subscription
    attempt: int = 0


class Notifier:
    """`await notifier.notify(kind, title, body, url)` returns at once; a background task encrypts and sends
    to every subscribed browser. Nothing it does raises into the caller: a push service that is down, slow
    or refusing is logged (and retried when it asked to be), never a failed turn."""

    def __init__(
        self,
        store: AsyncStore,
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS_SECONDS,
        session: requests.Session | None = None,
    ) -> None:
        self.store = store
        self.retry_delays = tuple(retry_delays)
        self._http = session or requests.Session()
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self._keys: VapidKeys | None = None
        self._keys_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    # -- keys ------------------------------------------------------------------------------
    async def keys(self) -> VapidKeys:
        """The VAPID pair, generated and stored on first use (the same one from then on, on every task)."""
        async with self._keys_lock:
            if self._keys is None:
                self._keys = await self.store.claim_vapid_keys(generate_keys())
                scrubber.register(self._keys.private_key)
            return self._keys

    async def public_key(self) -> str:
        return (await self.keys()).public_key

    # -- the API the rest of Blu calls -------------------------------------------------------
    async def notify(self, kind: str, title: str, body: str, url: str = "/", *, tag: str | None = None) -> bool:
        """Queue a notification of `kind` (one of NOTIFICATION_KINDS) for every subscribed browser, unless the
        person switched that kind off. Returns whether it was queued; never raises."""
        if kind not in NOTIFICATION_KINDS:
            log.error("unknown notification kind; nothing sent", extra={"kind": kind})
            return False
        try:
            preferences = await self.store.get_notification_preferences()
        except Exception:
            log.warning("could not read the notification preferences; nothing sent", exc_info=True)
            return False
        if not preferences.wants(kind):
            return False
        return self._enqueue(_Job(Notice(kind, title, body, url, tag)))

    def _enqueue(self, job: _Job) -> bool:
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            log.warning("too many notifications waiting; one was dropped", extra={"kind": job.notice.kind})
            return False
        return True

    async def send_now(self, notice: Notice, only: frozenset[str] | None = None) -> SendReport:
        """Deliver at once and say what happened (the API's test notification); retries still go to the queue."""
        return await self._deliver(_Job(notice, only))

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="notifier")

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Send what is queued (for up to `grace_seconds`: a run's last notice outlives a shutdown), then stop;
        retries still waiting are dropped."""
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(self._queue.join(), timeout=grace_seconds)
            except TimeoutError:
                dropped = {"queued": self._queue.qsize()}
                log.warning("notifications still queued at shutdown were dropped", extra=dropped)
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._http.close()

    async def idle(self) -> None:
        """Wait until every queued notice was handled (retries scheduled for later excepted): for tests."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self._deliver(job)
            except Exception:
                log.exception("a notification could not be delivered", extra={"kind": job.notice.kind})
            finally:
                self._queue.task_done()

    # -- delivery --------------------------------------------------------------------------
    async def _deliver(self, job: _Job) -> SendReport:
        report = SendReport()
        subscriptions = await self.store.list_push_subscriptions()
        if job.only is not None:
            subscriptions = [s for s in subscriptions if s.id in job.only]
        if not subscriptions:
            return report
        signer = Signer(await self.keys())
        payload = job.notice.payload()
        urgency = "high" if job.notice.kind == "approval_waiting" else "normal"
        deliveries = await asyncio.gather(
            *(
                asyncio.to_thread(deliver, subscription, payload, signer, session=self._http, urgency=urgency)
                for subscription in subscriptions
            )
        )
        again: list[str] = []
        waits: list[float] = []
        for subscription, delivery in zip(subscriptions, deliveries, strict=True):
            await self._settle(subscription, delivery, job, report)
            if delivery.outcome == "retry" and job.attempt < len(self.retry_delays):
                again.append(subscription.id)
                waits.append(delivery.retry_after or 0.0)
        if again:
            delay = max([self.retry_delays[job.attempt], *waits])
            self._later(delay, _Job(job.notice, frozenset(again), job.attempt + 1))
        return report

    async def _settle(
        self, subscription: PushSubscriptionRecord, delivery: Delivery, job: _Job, report: SendReport
    ) -> None:
        where = {
            "subscription": subscription.id,
            "push_service": endpoint_host(subscription.endpoint),
            "status": delivery.status,
            "kind": job.notice.kind,
        }
        if delivery.outcome == "sent":
            report.sent.append(subscription.id)
        elif delivery.outcome == "gone":
            # The browser unsubscribed, or its push service expired the subscription: it never comes back.
            await self.store.delete_push_subscription(subscription.id)
            report.dropped.append(subscription.id)
            log.info("push subscription is gone; dropped it", extra=where)
        elif delivery.outcome == "retry":
            final = job.attempt >= len(self.retry_delays)
            (report.failed if final else report.retrying).append(subscription.id)
            log.warning(
                "push service did not take a notification" + ("; giving up" if final else "; will retry"),
                extra={**where, "attempt": job.attempt, "detail": delivery.detail},
            )
        else:
            report.failed.append(subscription.id)
            log.warning("push service refused a notification", extra={**where, "detail": delivery.detail})

    def _later(self, delay: float, job: _Job) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            self._enqueue(job)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)
