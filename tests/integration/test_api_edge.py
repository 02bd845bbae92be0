"""The real API process (uvicorn) at its edge: request bodies are limited before they are read
(a declared length over the limit is a 413 before the body comes, a chunked body is cut at the
limit), and API keys never reach its log. The ingest routes' larger limits are tested
in-process, in tests/server/test_accounts_api.py."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from tests.conftest import read_http_answer

pytestmark = pytest.mark.integration


def _connect(live_api: str) -> socket.socket:
    address = urlsplit(live_api)
    sock = socket.create_connection((address.hostname, address.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def test_a_declared_body_over_the_limit_is_refused_before_it_arrives(
    live_api: str, live_key: str
) -> None:
    head = (
        "POST /api/v1/runs HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: Bearer {live_key}\r\nContent-Type: application/json\r\n"
        "Content-Length: 40000000\r\n\r\n"
    ).encode()
    with _connect(live_api) as sock:
        sock.sendall(head)
        sock.sendall(b'{"name": "' + b"x" * 1014)  # 1 KB of the 40 MB; the rest never comes
        # A server that waited for the body would never answer: recv would time out (5 s).
        status, _, _ = read_http_answer(sock)
    assert status == 413


def _chunked(live_api: str, path: str, token: str, body: bytes, chunk: int = 8192) -> int:
    with _connect(live_api) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        try:
            for start in range(0, len(body), chunk):
                piece = body[start : start + chunk]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body was sent
        status, _, _ = read_http_answer(sock)
    return status


def test_a_chunked_spec_is_cut_at_the_limit_and_nothing_is_stored(
    live_api: str, live_key: str
) -> None:
    import httpx

    before = httpx.get(
        f"{live_api}/api/v1/runs", headers={"Authorization": f"Bearer {live_key}"}
    ).json()["total"]
    body = b'{"benchmark": {"name": "split_digits"}, "name": "' + b"x" * 70_000 + b'"}'
    assert _chunked(live_api, "/api/v1/runs", live_key, body) == 413
    after = httpx.get(
        f"{live_api}/api/v1/runs", headers={"Authorization": f"Bearer {live_key}"}
    ).json()["total"]
    assert after == before


def test_api_keys_never_reach_the_servers_log(live_api: str, live_key: str) -> None:
    import httpx

    from tests.conftest import ARTIFACTS, SESSION_TAG

    auth = {"Authorization": f"Bearer {live_key}"}
    assert httpx.get(f"{live_api}/api/v1/auth/me", headers=auth).status_code == 200
    made = httpx.post(f"{live_api}/api/v1/keys", json={"name": "logged?"}, headers=auth).json()
    httpx.delete(f"{live_api}/api/v1/keys/{made['key']['id']}", headers=auth)
    log = (ARTIFACTS / f"api-{SESSION_TAG}.log").read_text(errors="replace")
    assert "GET /api/v1/auth/me" in log  # the right log, with this test's requests in it
    for secret in (live_key, made["secret"]):
        assert secret not in log and secret[3:] not in log
