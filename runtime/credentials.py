"""The login hash and cookie key: from the environment in AWS, generated once and kept on disk locally."""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from core.auth import generate_password, hash_password
from runtime.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginSecrets:
    password_hash: str
    session_secret: str


class MissingSecrets(RuntimeError):
    """Blu was started against AWS without its login secrets."""


def load_login_secrets(settings: Settings, *, announce: bool = True) -> LoginSecrets:
    """Use AUTH_PASSWORD_HASH and SESSION_SECRET when set. A local run without them gets a generated
    password, printed once; only its hash is kept (in `<data dir>/login.json`, mode 600)."""
    password_hash = settings.auth_password_hash.get_secret_value() if settings.auth_password_hash else ""
    session_secret = settings.session_secret.get_secret_value() if settings.session_secret else ""
    if password_hash and session_secret:
        return LoginSecrets(password_hash, session_secret)
    if not settings.is_local:
        raise MissingSecrets("AUTH_PASSWORD_HASH and SESSION_SECRET must be set (they come from the secret).")
    path = settings.data_dir / "login.json"
    stored = _read(path)
    if not stored.get("password_hash") and not password_hash:
        password = generate_password()
        stored["password_hash"] = hash_password(password)
        if announce:
            # Printed once, to the terminal of the person who started Blu; never logged.
            print(f"\n  Blu's local password (shown once, only its hash is kept): {password}\n", flush=True)
    stored.setdefault("session_secret", secrets.token_urlsafe(48))
    _write(path, stored)
    return LoginSecrets(password_hash or stored["password_hash"], session_secret or stored["session_secret"])


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out)
    os.replace(tmp, path)
