"""Login core shared by the runtime and the launcher Lambda: password check, signed cookie, throttling."""

from core.auth.cookies import COOKIE_NAME, CookieSigner, cookie_is_secure
from core.auth.passwords import PasswordError, generate_password, hash_password, verify_password
from core.auth.throttle import LoginResult, LoginThrottle, attempt_login

__all__ = [
    "COOKIE_NAME",
    "CookieSigner",
    "LoginResult",
    "LoginThrottle",
    "PasswordError",
    "attempt_login",
    "cookie_is_secure",
    "generate_password",
    "hash_password",
    "verify_password",
]
