"""Secrets handed out by the server (API keys, session cookies, sign-in links, run tokens) and
the checks on what callers send back.

Every such secret is 32 random bytes, so a single SHA-256 is a safe way to store it (nothing to
brute-force) and costs microseconds per request, unlike a password hash. Only the digest is
stored; comparisons of secrets the server holds in memory are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from gapwatch.server.errors import Unauthorized

API_KEY_PREFIX = "gw_"
# Characters of a key shown in lists so that a person can tell keys apart ("gw_AbC1dE2f").
SHOWN_PREFIX_CHARS = 11
SESSION_COOKIE = "gapwatch_session"
CSRF_HEADER = "X-CSRF-Token"
AUTHENTICATE_HINT = (
    "sign in to the dashboard, or send 'Authorization: Bearer <API key>' "
    "(create a key with `gapwatch keys create NAME` or on the dashboard's settings page)"
)


def new_secret(prefix: str = "") -> str:
    """A fresh 256-bit URL-safe secret, with an optional recognisable prefix."""
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a secret: what the database keeps instead of it."""
    return hashlib.sha256(secret.encode()).hexdigest()


def shown_prefix(key: str) -> str:
    return key[:SHOWN_PREFIX_CHARS]


def is_api_key(value: str) -> bool:
    return value.startswith(API_KEY_PREFIX)


def csrf_token_for(session_secret: str) -> str:
    """The CSRF token of a session: derived from its cookie, so nothing more is stored.

    A page of another site can make the browser send the cookie (without SameSite), but it can
    read neither the cookie nor this token, so it cannot add the header.
    """
    return hmac.new(session_secret.encode(), b"gapwatch-csrf-v1", hashlib.sha256).hexdigest()


def secrets_equal(given: str, expected: str) -> bool:
    """Constant-time equality of two ASCII secrets."""
    return hmac.compare_digest(given.encode(), expected.encode())


def bearer_value(authorization: str | None) -> str:
    """The credential of an `Authorization: Bearer <value>` header; 401 otherwise.

    Only printable ASCII without spaces is a credential: a header of Unicode spaces or other
    look-alikes is refused before it reaches any comparison.
    """
    if not authorization:
        raise Unauthorized(f"authentication required: {AUTHENTICATE_HINT}")
    scheme, _, value = authorization.partition(" ")
    value = value.strip(" \t")
    if scheme.lower() != "bearer" or not value:
        raise Unauthorized("expected 'Authorization: Bearer <token>'")
    if not (value.isascii() and value.isprintable()) or " " in value or len(value) > 512:
        raise Unauthorized("a bearer token is printable ASCII without spaces")
    return value
