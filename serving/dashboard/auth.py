"""The dashboard's sign-in: with JOURNEYRANK_API_TOKEN set, the token is asked once and kept in a cookie.

The cookie holds an HMAC of the token, never the token; the token never appears in a URL or a log.
"""

from __future__ import annotations

import hashlib
import hmac
import os

COOKIE = "journeyrank_ui"
TOKEN_ENV = "JOURNEYRANK_API_TOKEN"
_PURPOSE = b"journeyrank-dashboard-session"


def configured_token() -> str | None:
    return os.environ.get(TOKEN_ENV) or None


def session_value(token: str) -> str:
    return hmac.new(token.encode(), _PURPOSE, hashlib.sha256).hexdigest()


def signed_in(cookie: str | None, token: str | None) -> bool:
    """True when no token is configured, or the cookie proves the token was given."""
    if token is None:
        return True
    return cookie is not None and hmac.compare_digest(
        cookie.encode(), session_value(token).encode()
    )


def token_matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.strip().encode(), token.encode())
