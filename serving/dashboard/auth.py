"""The dashboard's sign-in: with JOURNEYRANK_API_TOKEN set, the token is asked once and kept in a cookie.

The cookie holds when the sign-in ends and an HMAC of that time under the token, never the token;
the token never appears in a URL or a log. The server checks the time itself (a browser that keeps
a cookie past its Max-Age gains nothing), and changing the token signs everyone out.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from features.settings import Settings

COOKIE = "journeyrank_ui"
_PURPOSE = b"journeyrank-dashboard-session:"


def configured_token(settings: Settings) -> str | None:
    return settings.api_token


def session_value(token: str, expires_at: int) -> str:
    """`<expiry, unix seconds>.<HMAC of it under the token>`."""
    mac = hmac.new(token.encode(), _PURPOSE + str(expires_at).encode(), hashlib.sha256)
    return f"{expires_at}.{mac.hexdigest()}"


def new_session(token: str, hours: float, now: float | None = None) -> tuple[str, int]:
    """A cookie value for a sign-in that lasts `hours`, and its max-age in seconds."""
    max_age = int(hours * 3600)
    expires_at = int(time.time() if now is None else now) + max_age
    return session_value(token, expires_at), max_age


def signed_in(cookie: str | None, token: str | None, now: float | None = None) -> bool:
    """True when no token is configured, or the cookie proves the token was given and is not stale."""
    if token is None:
        return True
    if cookie is None:
        return False
    expiry, _, _ = cookie.partition(".")
    if not expiry.isdigit():
        return False
    proven = hmac.compare_digest(cookie.encode(), session_value(token, int(expiry)).encode())
    return proven and int(expiry) > (time.time() if now is None else now)


def token_matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.strip().encode(), token.encode())
