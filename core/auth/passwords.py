"""bcrypt password hashing; the only place Blu looks at a password."""

from __future__ import annotations

import secrets

import bcrypt

BCRYPT_MAX_BYTES = 72  # bcrypt ignores (bcrypt 5 rejects) anything past 72 bytes


class PasswordError(ValueError):
    """A password that cannot be hashed as given."""


def hash_password(password: str, *, rounds: int = 12) -> str:
    raw = password.encode("utf-8")
    if not raw:
        raise PasswordError("The password is empty.")
    if len(raw) > BCRYPT_MAX_BYTES:
        raise PasswordError(f"The password is longer than {BCRYPT_MAX_BYTES} bytes; choose a shorter one.")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds=rounds)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    """True when `password` matches; False for any malformed input rather than an exception."""
    try:
        raw = password.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    if not raw or len(raw) > BCRYPT_MAX_BYTES:
        return False
    try:
        return bcrypt.checkpw(raw, password_hash.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False


def generate_password() -> str:
    """A password for a local run with no hash configured: easy to type, ~100 bits."""
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))
