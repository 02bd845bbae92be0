"""The HTTP edge of the API: security headers, Host check, CORS, rate limiting. (Body sizes
are limited by FastAPI's own `max_body_size`, per app and per route: see app.py; the edge only
answers the 413 in JSON.)

Everything here is plain ASGI (no `BaseHTTPMiddleware`, which copies every request into a task
and breaks streaming): the middlewares only look at `http.response.start` and pass body chunks
through untouched, so Server-Sent Events stream as before.

`install_edge` is called last in `create_app`, after every other middleware, and gives (outermost
first): security headers, the JSON 413, Host check, CORS (only when origins are configured).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

import orjson
from fastapi import FastAPI
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from gapwatch.config import Settings

log = logging.getLogger(__name__)

# --- Security headers -------------------------------------------------------------------------

# The dashboard is a Vite build: scripts and styles are files of its own origin. Inline styles stay
# allowed because the chart library (uPlot) and React set `style` attributes; images may be data:
# or blob: URLs (PNG export of a chart).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The /docs page (Swagger UI) loads its bundle and stylesheet from this server
# (gapwatch.server.docs) but starts it with an inline <script>. The strict policy would leave it
# blank, so exactly these paths also allow inline scripts, and no other origin (still no
# framing, no plugins, no foreign form targets, and API calls only to this origin). They show
# nothing but the public OpenAPI document.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # The CSP's frame-ancestors says the same to current browsers; this is for older ones.
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # no-referrer: run pages, sign-in links (one-time tokens in the URL) and even the host name of
    # a lab-internal server must not reach sites linked from run notes. Nothing here reads the
    # Referer header. The dashboard calls the API with fetch(), whose Origin header this policy
    # leaves alone; only HTML form posts would send `Origin: null`.
    "Referrer-Policy": "no-referrer",
    # Pages of other sites that this one opens (or that open it) get no window handle to it.
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


_STRICT_HEADERS = _encoded(SECURITY_HEADERS)
_DOCS_HEADERS = _encoded(
    {**SECURITY_HEADERS, "Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY}
)


def _app_path(scope: Scope) -> str:
    """The request path below the app's mount point (`root_path` stripped if the server kept it)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


class SecurityHeadersMiddleware:
    """Adds `SECURITY_HEADERS` to every HTTP response that lacks them.

    A header the app already set (a handler's own CSP, say) is kept as it is.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _DOCS_HEADERS if _app_path(scope) in DOCS_PATHS else _STRICT_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in extra if item[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- Body limit answers -----------------------------------------------------------------------


class JSONBodyLimitMiddleware:
    """Answers a body over its limit as every other error, `{"detail": ...}` in JSON, where
    Starlette's limiter writes a plain-text "Content Too Large"; the detail names the limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def send_json(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 413:
                headers = message.get("headers", [])
                kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if kind.startswith(b"text/plain"):
                    # The limiter sets the route's limit in the scope while it answers.
                    limit = scope.get(MAX_BODY_SIZE_SCOPE_KEY)
                    body = orjson.dumps({"detail": _too_large(limit)})
                    kept = [
                        (k, v)
                        for k, v in headers
                        if k.lower() not in (b"content-type", b"content-length")
                    ]
                    kept += [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ]
                    replaced = True
                    await send({**message, "headers": kept})
                    await send({"type": "http.response.body", "body": body})
                    return
            if replaced and message["type"] == "http.response.body":
                return  # the plain text, already replaced
            await send(message)

        await self.app(scope, receive, send_json)


def _too_large(limit: object) -> str:
    if isinstance(limit, int):
        return f"the request body is larger than the {limit} bytes this operation accepts"
    return "the request body is larger than this operation accepts"


# --- Host check -------------------------------------------------------------------------------

_MAX_ECHOED_HOST = 100


def host_of(value: str) -> str | None:
    """The host part of a Host header value, lower-case, without port or IPv6 brackets.

    Args:
        value: A Host header (`example.org:8000`, `[::1]:8000`, `EXAMPLE.org.`).

    Returns:
        The host (`example.org`, `::1`); a trailing dot of a fully qualified name is dropped.
        None when the value is empty or malformed (a port that is not a number, an unclosed
        bracket).
    """
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return None
        host, rest = value[1:end], value[end + 1 :]
        if rest and not (rest.startswith(":") and _is_port(rest[1:])):
            return None
    elif value.count(":") > 1:
        # An IPv6 address without brackets: not valid in a Host header, but unambiguous (no port).
        host = value
    else:
        host, colon, port = value.partition(":")
        if colon and not _is_port(port):
            return None
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    return host or None


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit()


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """Whether `host` (as `host_of` gives it) matches one of the `allowed` patterns.

    Args:
        host: A lower-case host name or IP address without port.
        allowed: Host names (case-insensitive; a port or brackets are ignored); `*.lab.org`
            matches every subdomain of lab.org (not lab.org itself); `*` matches any host.

    Returns:
        True when a pattern matches.
    """
    for pattern in allowed:
        pattern = pattern.strip().lower()
        if pattern == "*":
            return True
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == host_of(pattern):
            return True
    return False


class AllowedHostsMiddleware:
    """Answers 400 to requests for a Host that is not this server's.

    A web page on another site can make a browser send requests to a server on the user's
    network by pointing its own DNS name at that server's address (DNS rebinding); such requests
    carry the attacker's name in the Host header, so refusing unknown names stops them. The JSON
    answer says which setting to change, for the honest case of a new name or proxy.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.allowed_hosts = [h.strip().lower() for h in allowed_hosts if h.strip()]
        self.allow_any = "*" in self.allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.allow_any:
            await self.app(scope, receive, send)
            return
        values = [v for k, v in scope.get("headers", []) if k.lower() == b"host"]
        detail: str | None = None
        if not values:
            detail = "the request has no Host header"
        elif len(values) > 1:
            # Two Host headers: a proxy and this server could each believe a different one.
            detail = "the request has more than one Host header"
        else:
            raw = values[0].decode("latin-1")
            host = host_of(raw)
            if host is None or not host_allowed(host, self.allowed_hosts):
                shown = (host if host is not None else raw)[:_MAX_ECHOED_HOST]
                detail = f"Host '{shown}' is not allowed; add it to GAPWATCH_ALLOWED_HOSTS"
        if detail is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await WebSocketClose(code=1008, reason="host not allowed")(scope, receive, send)
        else:
            await JSONResponse({"detail": detail}, status_code=400)(scope, receive, send)


# --- Rate limiting ----------------------------------------------------------------------------

MAX_RATE_LIMIT_KEYS = 100_000
_WINDOW_S = 60.0
# Float sums of limit * (60 / limit) may land a hair above 60: without this the limit-th hit in
# one instant could be refused.
_EPSILON_S = 1e-9


class RateLimiter:
    """At most `limit_per_minute` events per key in any minute, smoothly refilled.

    A token bucket of `limit_per_minute` tokens that refills one token every
    60 / limit_per_minute seconds, stored as one timestamp per key (the generic cell-rate
    algorithm): a key may spend its whole minute at once, then one event per refill interval.
    Refused events are not counted, so a client that keeps retrying is let in again as soon as
    a token is back.

    The state is in this process's memory, guarded by a lock (endpoints run in a thread pool).
    With several API processes each keeps its own counts, so the effective limit is the limit
    times the number of processes; a restart forgets everything. Memory is bounded: a key is
    forgotten once its bucket is full again (idle for at most a minute), and beyond `max_keys`
    tracked keys the least recently used one is forgotten (which forgives that key: the cap
    guards memory, it is not a limit on its own).

    For "count only failures" (sign-in), reserve with `hit(key)` before the attempt (check and
    count at once, so that parallel attempts cannot all pass the check) and `refund(key)` after
    a success.
    """

    def __init__(
        self,
        limit_per_minute: int,
        *,
        max_keys: int = MAX_RATE_LIMIT_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a limiter.

        Args:
            limit_per_minute: Events allowed per key in a minute; 0 means no limit.
            max_keys: The most keys tracked at once.
            clock: Seconds from a monotonic clock (tests pass a fake one).

        Raises:
            ValueError: On a negative limit or a max_keys below 1.
        """
        if limit_per_minute < 0:
            raise ValueError("limit_per_minute must be >= 0 (0: no limit)")
        if max_keys < 1:
            raise ValueError("max_keys must be >= 1")
        self.limit_per_minute = limit_per_minute
        self.max_keys = max_keys
        self._clock = clock
        self._interval = _WINDOW_S / limit_per_minute if limit_per_minute else 0.0
        # key -> theoretical arrival time: when the key's bucket would be full again. Ordered by
        # last use, so the oldest entries are first in line to be forgotten.
        self._full_at: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """The number of keys tracked now."""
        with self._lock:
            return len(self._full_at)

    def hit(self, key: str) -> float | None:
        """Count one event for `key` if it is allowed.

        Args:
            key: Who is limited (a user name, an address, a token's id).

        Returns:
            None when allowed (and counted); otherwise the seconds to wait before the next event
            is allowed (not counted).
        """
        if not self.limit_per_minute:
            return None
        with self._lock:
            now = self._clock()
            wait = self._wait(key, now)
            if wait is None:
                self._add(key, now)
            return wait

    def retry_after(self, key: str) -> float | None:
        """Whether an event for `key` would be allowed now, without counting one.

        Args:
            key: Who is limited.

        Returns:
            None when an event would be allowed; otherwise the seconds to wait.
        """
        if not self.limit_per_minute:
            return None
        with self._lock:
            return self._wait(key, self._clock())

    def record(self, key: str) -> None:
        """Count one event for `key` whether or not it was allowed (e.g. a failed sign-in).

        A key can not owe more than one minute: recording beyond the limit keeps its wait at one
        refill interval after the last event.

        Args:
            key: Who is limited.
        """
        if not self.limit_per_minute:
            return
        with self._lock:
            self._add(key, self._clock())

    def refund(self, key: str) -> None:
        """Give back one counted event of `key` (an attempt reserved with `hit` that turned out
        not to count, such as a sign-in that succeeded).

        Args:
            key: Who is limited.
        """
        if not self.limit_per_minute:
            return
        with self._lock:
            full_at = self._full_at.get(key)
            if full_at is not None:
                full_at -= self._interval
                if full_at <= self._clock():
                    del self._full_at[key]
                else:
                    self._full_at[key] = full_at

    def reset(self, key: str) -> None:
        """Forget `key`'s events (e.g. after a successful sign-in).

        Args:
            key: Who is limited.
        """
        with self._lock:
            self._full_at.pop(key, None)

    def _wait(self, key: str, now: float) -> float | None:
        full_at = self._full_at.get(key)
        if full_at is None:
            return None
        # Allowed while one more event would keep the bucket within one minute of refilling.
        wait = full_at + self._interval - _WINDOW_S - now
        return wait if wait > _EPSILON_S else None

    def _add(self, key: str, now: float) -> None:
        full_at = self._full_at.pop(key, now)
        self._full_at[key] = min(max(full_at, now) + self._interval, now + _WINDOW_S)
        self._forget(now)

    def _forget(self, now: float) -> None:
        # Amortised O(1): each key is removed at most once per insertion. Entries are in order of
        # last use; the first one whose bucket is not yet full stops the sweep (it is full within
        # a minute, so idle keys never stay long).
        entries = self._full_at
        while entries:
            key, full_at = next(iter(entries.items()))
            if full_at <= now or len(entries) > self.max_keys:
                del entries[key]
            else:
                break


# --- Downloads --------------------------------------------------------------------------------


def attachment_headers(filename: str) -> dict[str, str]:
    """The headers that make a browser save the answer as `filename` (for streamed answers)."""
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def attachment(content: bytes | str, media_type: str, filename: str) -> Response:
    """`content` of `media_type` as a download named `filename`."""
    return Response(content, media_type=media_type, headers=attachment_headers(filename))


# --- Installation -----------------------------------------------------------------------------

CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CORS_HEADERS = ["Authorization", "Content-Type", "X-CSRF-Token"]


def install_edge(app: FastAPI, settings: Settings) -> None:
    """Add the edge middlewares to `app`; call it after every other middleware.

    From the outside in: security headers (wrapping even Starlette's error middleware, so a 500
    carries them too) and the JSON answer to a body over its limit (wrapping FastAPI's body
    limiter), Host check, CORS (only when `settings.resolved_cors_origins` is non-empty).

    Args:
        app: The application, not yet started (Starlette refuses middleware after that).
        settings: Allowed hosts and CORS origins are read from it.
    """
    origins = settings.resolved_cors_origins
    if origins:
        # With '*' a credentialed request would be answered with its own origin echoed, i.e.
        # every site could act as the signed-in user: a wildcard is allowed only without cookies.
        credentials = "*" not in origins
        if not credentials:
            log.warning("GAPWATCH_CORS_ORIGINS contains '*': cross-origin requests get no cookies")
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=credentials,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            # Scripts of an allowed origin may read how long to wait after a 429.
            expose_headers=["Retry-After"],
        )
    app.add_middleware(AllowedHostsMiddleware, allowed_hosts=settings.resolved_allowed_hosts)

    # Starlette puts ServerErrorMiddleware (which writes the 500 for an unhandled exception)
    # outside every added middleware, so an added security-header middleware would miss 500s.
    # Wrapping the built stack instead keeps Starlette's own error handling and still covers
    # every response.
    build_stack = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        # FastAPI's body limiter also sits outside every added middleware: the JSON 413 too.
        return SecurityHeadersMiddleware(JSONBodyLimitMiddleware(build_stack()))

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


__all__ = [
    "CONTENT_SECURITY_POLICY",
    "CORS_HEADERS",
    "CORS_METHODS",
    "DOCS_CONTENT_SECURITY_POLICY",
    "DOCS_PATHS",
    "MAX_RATE_LIMIT_KEYS",
    "SECURITY_HEADERS",
    "AllowedHostsMiddleware",
    "JSONBodyLimitMiddleware",
    "RateLimiter",
    "SecurityHeadersMiddleware",
    "attachment",
    "attachment_headers",
    "host_allowed",
    "host_of",
    "install_edge",
]
