"""Notifications to the person's browsers and phones (Web Push): `Notifier.notify(kind, title, body, url)`."""

from __future__ import annotations

from core.store.models import NOTIFICATION_KINDS, NotificationKind
from runtime.notify.notifier import Notice, Notifier, SendReport
from runtime.notify.presence import Presence

__all__ = ["NOTIFICATION_KINDS", "Notice", "NotificationKind", "Notifier", "Presence", "SendReport"]
