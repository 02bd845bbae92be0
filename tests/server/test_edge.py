"""The HTTP edge: security headers, Host check, CORS, rate limits, short 422s.

The app here is a small FastAPI app with `install_edge`, in-process through TestClient or raw
ASGI calls, and once as a real uvicorn process (for what only a real server shows: unbuffered
streams). Body limits are FastAPI's own, tested on the real API in test_accounts_api.py and
tests/integration/test_body_limits.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from gapwatch.config import Settings
from gapwatch.server.docs import install_docs
from gapwatch.server.edge import (
    CONTENT_SECURITY_POLICY,
    DOCS_CONTENT_SECURITY_POLICY,
    SECURITY_HEADERS,
    RateLimiter,
    host_of,
    install_edge,
)
from gapwatch.server.errors import (
    NotFound,
    TooManyRequests,
    Unauthorized,
    install_error_handlers,
)
from tests.conftest import (
    LiveProcess,
    clean_env,
    free_port,
    http_ok,
    read_http_answer,
    wait_until,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


class Spec(BaseModel):
    name: str


def edge_settings(**overrides: Any) -> Settings:
    """Settings that the environment of the test run can not change."""
    values: dict[str, Any] = {
        "environment": "development",
        "host": "127.0.0.1",
        "public_url": "",
        "api_url": None,
        "allowed_hosts": "",
        "cors_origins": "",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_app(settings: Settings | None = None) -> FastAPI:
    """A few routes like the real API's, with the edge installed; `app.state.calls` lists what
    the endpoints saw."""
    app = FastAPI(max_body_size=64 * 2**10, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    install_docs(app)
    calls: list[Any] = []
    app.state.calls = calls

    @app.get("/api/v1/ok")
    def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/api/v1/runs", status_code=201)
    def submit(spec: Spec) -> dict[str, int]:
        calls.append(("submit", len(spec.name)))
        return {"length": len(spec.name)}

    @app.post("/api/v1/runs/{run_id}/metrics")
    async def ingest(run_id: int, request: Request) -> dict[str, int]:
        body = await request.body()
        calls.append(("metrics", len(body)))
        return {"received": len(body)}

    @app.post("/api/v1/runs/{run_id}/events")
    async def events(run_id: int, request: Request) -> dict[str, int]:
        # Chunk by chunk, as a streaming upload would: each chunk the app got is recorded.
        async for chunk in request.stream():
            calls.append(("events-chunk", len(chunk)))
        return {"ok": 1}

    @app.get("/api/v1/runs/{run_id}/live")
    def live(run_id: int) -> StreamingResponse:
        frames = (f"event: run\ndata: {i}\n\n" for i in range(3))
        return StreamingResponse(frames, media_type="text/event-stream")

    @app.get("/api/v1/missing")
    def missing() -> None:
        raise NotFound("no such thing")

    @app.get("/api/v1/private")
    def private() -> None:
        raise Unauthorized("sign in")

    @app.get("/api/v1/limited")
    def limited() -> None:
        raise TooManyRequests("slow down", retry_after_s=2.1)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/api/v1/own-policy")
    def own_policy() -> Response:
        return Response("x", headers={"Content-Security-Policy": "default-src 'none'"})

    install_edge(app, settings or edge_settings())
    return app


def client_for(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="http://localhost", raise_server_exceptions=False)


@pytest.fixture
def app() -> FastAPI:
    return make_app()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with client_for(app) as test_client:
        yield test_client


def assert_security_headers(response: Any, csp: str = CONTENT_SECURITY_POLICY) -> None:
    expected = {**SECURITY_HEADERS, "Content-Security-Policy": csp}
    for name, value in expected.items():
        assert response.headers.get_list(name) == [value], (name, response.status_code)


def asgi_request(
    app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, dict[str, str], bytes]:
    """One request straight through the ASGI interface: headers exactly as given (no Host added)
    and the body as these separate chunks."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks or [b""])
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        await asyncio.sleep(3600)  # the client is still there; nothing more comes
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # A thread of its own: an earlier test (playwright's sync API) may have left an event loop
    # registered as running in this one, where asyncio.run refuses to start.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    (start,) = [m for m in sent if m["type"] == "http.response.start"]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers_out = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers_out, body


# --- Security headers -------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    big = {"name": "x" * 70_000}
    answers = [
        (client.get("/api/v1/ok"), 200),
        (client.get("/api/v1/ok", headers={"Host": "evil.example"}), 400),
        (client.get("/api/v1/nowhere"), 404),
        (client.get("/api/v1/missing"), 404),
        (client.get("/api/v1/private"), 401),
        (client.post("/api/v1/runs", json={"name": 3}), 422),
        (client.post("/api/v1/runs", json=big), 413),
        (client.get("/api/v1/limited"), 429),
        (client.get("/api/v1/boom"), 500),
        (client.get("/api/v1/runs/1/live"), 200),
    ]
    for response, status in answers:
        assert response.status_code == status, response.text
        assert_security_headers(response)
    stream = answers[9][0]
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.text == "".join(f"event: run\ndata: {i}\n\n" for i in range(3))


def test_a_header_the_handler_set_is_kept(client: TestClient) -> None:
    response = client.get("/api/v1/own-policy")
    assert response.headers.get_list("content-security-policy") == ["default-src 'none'"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_only_the_docs_pages_get_the_relaxed_policy(client: TestClient) -> None:
    for path in ("/docs", "/docs/oauth2-redirect"):
        response = client.get(path)
        assert response.status_code == 200
        assert_security_headers(response, DOCS_CONTENT_SECURITY_POLICY)
        # The pages load nothing from another origin, and their policy allows none.
        assert not re.findall(r'(?:src|href)="(https?:)?//', response.text), path
    assert "<script>" in client.get("/docs").text  # why the exception exists
    script_src = re.search(r"script-src ([^;]+)", DOCS_CONTENT_SECURITY_POLICY)
    assert script_src and "'unsafe-inline'" in script_src.group(1)
    assert "https:" not in DOCS_CONTENT_SECURITY_POLICY
    for path in ("/openapi.json", "/docs/other", "/docsx", "/api/v1/ok"):
        assert_security_headers(client.get(path))
    redoc = client.get("/redoc", follow_redirects=False)  # sent to /docs: no page of its own
    assert redoc.headers["location"] == "/docs"
    assert_security_headers(redoc)
    assert "cdn.jsdelivr.net" not in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in re.search(r"script-src ([^;]+)", CONTENT_SECURITY_POLICY)[0]


# --- Host check -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "host", "status"),
    [
        ("", "localhost", 200),
        ("", "localhost:8000", 200),
        ("", "LocalHost:8000", 200),
        ("", "127.0.0.1:1234", 200),
        ("", "[::1]:8000", 200),
        ("", "[::1]", 200),
        ("", "localhost.", 200),
        ("", "evil.example", 400),
        ("", "evil.example:8000", 400),
        ("", "localhost.evil.example", 400),
        ("", "localhost:abc", 400),
        ("", "[::1", 400),
        ("", "[::2]:8000", 400),
        ("gapwatch.lab.org", "GAPWATCH.lab.org:443", 200),
        ("*.lab.org", "gpu1.lab.org", 200),
        ("*.lab.org", "a.b.lab.org:8443", 200),
        ("*.lab.org", "lab.org", 400),
        ("*.lab.org", "evillab.org", 400),
        ("*.lab.org", "lab.org.evil.example", 400),
        ("*", "anything.example", 200),
    ],
)
def test_the_host_header_is_checked(allowed: str, host: str, status: int) -> None:
    with client_for(make_app(edge_settings(allowed_hosts=allowed))) as client:
        response = client.get("/api/v1/ok", headers={"Host": host})
    assert response.status_code == status, response.text
    if status == 400:
        assert response.headers["content-type"] == "application/json"
        assert response.json()["detail"].endswith(
            "is not allowed; add it to GAPWATCH_ALLOWED_HOSTS"
        )


def test_a_refused_host_is_named_in_the_answer(client: TestClient) -> None:
    response = client.get("/api/v1/ok", headers={"Host": "Evil.Example:8000"})
    assert response.json() == {
        "detail": "Host 'evil.example' is not allowed; add it to GAPWATCH_ALLOWED_HOSTS"
    }
    long = client.get("/api/v1/ok", headers={"Host": "a" * 5000 + ".example"})
    assert long.status_code == 400 and len(long.content) < 300


def test_a_request_without_one_host_header_is_refused(app: FastAPI) -> None:
    status, _, body = asgi_request(app, "GET", "/api/v1/ok", [], [])
    assert status == 400 and json.loads(body) == {"detail": "the request has no Host header"}
    two = [(b"host", b"localhost"), (b"host", b"evil.example")]
    status, _, body = asgi_request(app, "GET", "/api/v1/ok", two, [])
    assert status == 400 and "more than one" in json.loads(body)["detail"]
    status, headers, _ = asgi_request(app, "GET", "/api/v1/ok", [(b"host", b"localhost")], [])
    assert status == 200 and headers["x-content-type-options"] == "nosniff"


def test_host_of_takes_the_host_part() -> None:
    assert host_of("Example.ORG:8000") == "example.org"
    assert host_of("[2001:DB8::1]:443") == "2001:db8::1"
    assert host_of("::1") == "::1"
    assert host_of("") is None
    assert host_of("[::1]x") is None
    assert host_of("example.org:") is None
    assert host_of("example.org:８０") is None  # full-width digits are not a port


def test_the_settings_hosts_are_allowed() -> None:
    settings = edge_settings(public_url="https://tracker.lab.org", allowed_hosts="10.0.0.5")
    with client_for(make_app(settings)) as client:
        for host in ("tracker.lab.org", "10.0.0.5:8000"):
            assert client.get("/api/v1/ok", headers={"Host": host}).status_code == 200
        assert client.get("/api/v1/ok", headers={"Host": "10.0.0.6"}).status_code == 400


# --- CORS -------------------------------------------------------------------------------------


def _preflight(client: TestClient, origin: str) -> Any:
    return client.options(
        "/api/v1/runs",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-csrf-token",
        },
    )


def test_no_cors_headers_unless_origins_are_configured(client: TestClient) -> None:
    response = client.get("/api/v1/ok", headers={"Origin": "https://other.example"})
    assert response.status_code == 200
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    preflight = _preflight(client, "https://other.example")
    assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]
    assert preflight.status_code == 405


def test_configured_origins_may_call_with_credentials() -> None:
    settings = edge_settings(cors_origins="https://app.example, https://b.example")
    with client_for(make_app(settings)) as client:
        response = client.get("/api/v1/limited", headers={"Origin": "https://app.example"})
        assert response.headers["access-control-allow-origin"] == "https://app.example"
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "retry-after" in response.headers["access-control-expose-headers"].lower()
        assert_security_headers(response)

        preflight = _preflight(client, "https://b.example")
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://b.example"
        methods = preflight.headers["access-control-allow-methods"]
        assert set(methods.replace(" ", "").split(",")) >= {"GET", "POST", "PUT", "PATCH", "DELETE"}
        assert "x-csrf-token" in preflight.headers["access-control-allow-headers"].lower()

        other = client.get("/api/v1/ok", headers={"Origin": "https://other.example"})
        assert "access-control-allow-origin" not in other.headers
        assert _preflight(client, "https://other.example").status_code == 400


def test_a_wildcard_origin_gets_no_credentials() -> None:
    with client_for(make_app(edge_settings(cors_origins="*"))) as client:
        response = client.get(
            "/api/v1/ok", headers={"Origin": "https://any.example", "Cookie": "session=1"}
        )
    assert "access-control-allow-origin" in response.headers
    assert "access-control-allow-credentials" not in response.headers


# --- Body limits ------------------------------------------------------------------------------


# --- A real server ----------------------------------------------------------------------------

SERVER_MODULE = """
import asyncio
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from gapwatch.config import Settings
from gapwatch.server.edge import install_edge
from gapwatch.server.errors import install_error_handlers

RELEASE = Path(__file__).with_name("release")
app = FastAPI()
install_error_handlers(app)
calls = []


class Spec(BaseModel):
    name: str


@app.get("/ping")
def ping():
    return {"calls": calls}


@app.post("/api/v1/runs", status_code=201)
def submit(spec: Spec):
    calls.append(len(spec.name))
    return {"length": len(spec.name)}


@app.get("/api/v1/runs/1/live")
async def live():
    async def frames():
        yield b"event: run\\ndata: first\\n\\n"
        for _ in range(600):
            if RELEASE.exists():
                break
            await asyncio.sleep(0.05)
        yield b"event: run\\ndata: last\\n\\n"

    return StreamingResponse(frames(), media_type="text/event-stream")


install_edge(app, Settings(_env_file=None, environment="development", allowed_hosts=""))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    folder = tmp_path_factory.mktemp("edge_server")
    (folder / "edge_app.py").write_text(SERVER_MODULE)
    port = free_port()
    process = LiveProcess(
        "edge-uvicorn",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "edge_app:app",
            "--app-dir",
            str(folder),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        clean_env(),
    )
    try:
        try:
            wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/ping"), 30, "uvicorn start")
        except TimeoutError:
            raise AssertionError("uvicorn did not start:\n" + process.output()) from None
        yield port, folder
    finally:
        process.stop()


def _more(sock: socket.socket, so_far: bytes) -> bytes:
    chunk = sock.recv(65536)
    assert chunk, f"the server closed the stream after {so_far!r}"
    return chunk


def test_a_real_server_still_streams_events_unbuffered(server: tuple[int, Path]) -> None:
    port, folder = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /api/v1/runs/1/live HTTP/1.1\r\nHost: localhost\r\n\r\n")
        # The stream holds its second frame until told: a buffering middleware would show
        # nothing here until the end (and recv would time out).
        status, headers, rest = read_http_answer(sock)
        while b"data: first" not in rest:
            rest += _more(sock, rest)
        assert b"data: last" not in rest
        (folder / "release").touch()
        while b"data: last" not in rest:
            rest += _more(sock, rest)
    assert status == 200
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY


# --- Rate limiter -----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_is_reached_then_refills_one_at_a_time() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, clock=clock)
    assert [limiter.hit("a") for _ in range(3)] == [None, None, None]
    assert limiter.hit("a") == pytest.approx(20.0)
    assert limiter.hit("b") is None  # keys are independent
    clock.now += 19.5
    assert limiter.hit("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.hit("a") is None
    assert limiter.hit("a") == pytest.approx(20.0)
    clock.now += 60
    assert [limiter.hit("a") for _ in range(4)] == [None, None, None, pytest.approx(20.0)]


def test_refused_hits_are_not_counted() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    limiter.hit("a"), limiter.hit("a")
    for _ in range(100):
        assert limiter.hit("a") is not None
    clock.now += 30
    assert limiter.hit("a") is None


def test_a_limit_that_does_not_divide_a_minute_allows_exactly_that_many() -> None:
    clock = FakeClock()
    for limit in (7, 11, 13, 120):
        limiter = RateLimiter(limit, clock=clock)
        results = [limiter.hit("k") for _ in range(limit + 1)]
        assert results[:limit] == [None] * limit and results[limit] is not None, limit


def test_limit_zero_is_unlimited_and_tracks_nothing() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.hit("a") is None for _ in range(10_000))
    limiter.record("a")
    assert limiter.retry_after("a") is None and len(limiter) == 0


def test_check_before_and_record_after_for_failed_sign_ins() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, clock=clock)
    for _ in range(50):
        assert limiter.retry_after("alice") is None  # asking does not count
    for _ in range(3):
        limiter.record("alice")  # three failures
    assert limiter.retry_after("alice") == pytest.approx(20.0)
    for _ in range(10):
        limiter.record("alice")  # more failures never owe more than one interval
    assert limiter.retry_after("alice") == pytest.approx(20.0)
    limiter.reset("alice")  # a success forgives
    assert limiter.retry_after("alice") is None
    assert limiter.hit("alice") is None


def test_idle_keys_are_forgotten() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)  # one token a second
    for i in range(100):
        limiter.hit(f"k{i}")
    assert len(limiter) == 100
    clock.now += 1.5
    limiter.hit("new")
    assert len(limiter) == 1


def test_the_number_of_keys_is_capped_oldest_first() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, max_keys=100, clock=clock)
    for i in range(1000):
        assert limiter.hit(f"k{i}") is None
    assert len(limiter) == 100
    assert limiter.hit("k999") is not None  # recent: still limited
    assert limiter.hit("k0") is None  # evicted: forgotten


def test_the_limiter_counts_exactly_across_threads() -> None:
    limiter = RateLimiter(5000, clock=FakeClock())
    allowed = []

    def worker() -> None:
        allowed.append(sum(limiter.hit("shared") is None for _ in range(2000)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 5000


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(-1)


# --- 429 and 422 answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "header"), [(2.1, "3"), (0.2, "1"), (0.0, "1"), (5.0, "5"), (59.0001, "60")]
)
def test_retry_after_is_whole_seconds_rounded_up(seconds: float, header: str) -> None:
    assert TooManyRequests("x", retry_after_s=seconds).retry_after_header == header


def test_an_impossible_retry_after_is_refused() -> None:
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            TooManyRequests("x", retry_after_s=bad)


def test_too_many_requests_is_a_429_with_retry_after(client: TestClient) -> None:
    response = client.get("/api/v1/limited")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json() == {"detail": "slow down"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=10)
    tags: list[int] = Field(default_factory=list, max_length=3)
    value: float = Field(0.0, allow_inf_nan=False)
    count: int = 0


@pytest.fixture
def strict_client() -> Iterator[TestClient]:
    # No edge here: the 413 would come first for the large bodies.
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/strict")
    def strict(body: Strict) -> dict[str, bool]:
        return {"ok": True}

    @app.post("/many")
    def many(body: list[int]) -> dict[str, bool]:
        return {"ok": True}

    with client_for(app) as client:
        yield client


def test_a_422_echoes_only_an_excerpt_of_a_megabyte_string(strict_client: TestClient) -> None:
    response = strict_client.post("/strict", json={"name": "y" * 2**20})
    assert response.status_code == 422
    assert len(response.content) < 1000
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "name"]
    assert "at most 10 characters" in error["msg"]
    assert error["input"] == "y" * 100 + "…"
    assert error["ctx"] == {"max_length": 10}


def test_a_422_summarises_containers(strict_client: TestClient) -> None:
    fields = {f"extra{i}": i for i in range(20)}
    response = strict_client.post("/strict", json={**fields, "tags": list(range(100_000))})
    assert response.status_code == 422 and len(response.content) < 5000
    errors = {tuple(e["loc"]): e for e in response.json()["detail"]}
    missing = errors[("body", "name")]
    assert missing["type"] == "missing"
    assert missing["input"] == {
        "type": "dict",
        "length": 21,
        "keys": [f"extra{i}" for i in range(10)],
    }
    assert errors[("body", "tags")]["input"] == {"type": "list", "length": 100_000}


def test_a_422_keeps_non_finite_numbers_readable(strict_client: TestClient) -> None:
    response = strict_client.post(
        "/strict",
        content=b'{"name": "a", "value": NaN}',
        headers={"Content-Type": "application/json"},
    )
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "value"] and error["input"] == "nan"


def test_a_422_cuts_long_keys_and_huge_numbers(strict_client: TestClient) -> None:
    key = "k" * 10_000
    response = strict_client.post("/strict", json={"name": 10**200, key: 1})
    assert response.status_code == 422 and len(response.content) < 1500
    errors = response.json()["detail"]
    assert ["body", "k" * 100 + "…"] in [e["loc"] for e in errors]
    (name,) = [e for e in errors if e["loc"] == ["body", "name"]]
    assert name["type"] == "string_type" and name["input"] == "<665-bit integer>"


def test_a_422_lists_at_most_fifty_errors(strict_client: TestClient) -> None:
    response = strict_client.post("/many", json=["not a number"] * 1000)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) == 51
    assert [e["loc"] for e in detail[:50]] == [["body", i] for i in range(50)]
    assert detail[50] == {
        "type": "too_many_errors",
        "loc": [],
        "msg": "950 more errors not shown",
    }
