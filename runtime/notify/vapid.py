"""The VAPID key pair (RFC 8292): generated once, kept in the store, and the signed header of each push."""

from __future__ import annotations

import base64
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from core.store.models import VapidKeys

# The JWT's `sub`: how a push service may reach whoever runs the sender. A self-hosted Blu has no operator
# address to give, and Apple's service refuses `localhost` ones, so a reserved domain stands in.
VAPID_SUBJECT = "mailto:blu@example.com"
# How long one signed header stays valid; push services refuse more than 24 hours.
TOKEN_SECONDS = 12 * 3600


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Raises ValueError (binascii.Error) on anything that is not base64url."""
    return base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))


def generate_keys() -> VapidKeys:
    """A fresh P-256 pair: the public key as PushManager.subscribe takes it, the private scalar raw."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return VapidKeys(public_key=b64url(public), private_key=b64url(private))


class Signer:
    """Signs the `Authorization: vapid t=<JWT>,k=<public key>` header for one push service origin."""

    def __init__(self, keys: VapidKeys, subject: str = VAPID_SUBJECT) -> None:
        self._vapid = Vapid02.from_raw(keys.private_key.encode("ascii"))
        self.public_key = keys.public_key
        self.subject = subject

    def headers(self, endpoint: str, now: float | None = None) -> dict[str, str]:
        parts = urlsplit(endpoint)
        claims = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "sub": self.subject,
            "exp": int((time.time() if now is None else now) + TOKEN_SECONDS),
        }
        signed: dict[str, str] = self._vapid.sign(claims)
        return signed
