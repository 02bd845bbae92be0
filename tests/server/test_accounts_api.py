"""Who may do what: every endpoint without credentials, with another project's run, with a
viewer's key; sessions with their CSRF token; keys, links, projects and members."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from gapwatch.server.access.middleware import PUBLIC_API_PATHS
from gapwatch.server.access.recent import forget_all
from gapwatch.server.models import Role, WebSession
from gapwatch.server.models.base import utcnow
from tests.server.conftest import SPEC, claim, create_run, make_account

PASSWORD = "correct horse battery"
# The only API paths open without credentials, written out here rather than taken from the code.
SIGN_IN_PATHS = {"/api/v1/auth/sign-in", "/api/v1/auth/link"}


def _path_of(template: str) -> str:
    """A concrete path for an OpenAPI path template (ids and names that exist nowhere)."""
    return re.sub(r"\{[^}]+\}", lambda m: "1" if m.group(0).endswith("id}") else "x1", template)


def test_every_endpoint_but_sign_in_and_health_needs_credentials(api, anonymous) -> None:
    schema = api.get("/openapi.json").json()
    checked = 0
    for template, operations in schema["paths"].items():
        for method in operations:
            path = _path_of(template)
            answer = anonymous.request(method.upper(), path, json={})
            if template == "/health":
                assert answer.status_code == 200
            elif template in SIGN_IN_PATHS:
                assert answer.status_code == 422, (method, template)  # reached, body refused
            else:
                assert answer.status_code == 401, (method, template, answer.text)
                assert "Bearer" in answer.json()["detail"], template
                assert answer.headers["www-authenticate"].startswith("Bearer")
                checked += 1
    assert checked >= 35
    assert PUBLIC_API_PATHS == SIGN_IN_PATHS  # nothing else skips authentication


def test_another_projects_run_is_not_found_anywhere(api, db_session_factory) -> None:
    run = create_run(api)
    stranger = make_account(db_session_factory, "bob", project="vision")
    headers = stranger.auth
    base = f"/api/v1/runs/{run['id']}"
    for path in ("", "/summary", "/gaps", "/metrics", "/metrics/keys", "/events", "/export"):
        answer = api.get(base + path, headers=headers)
        assert answer.status_code == 404 and "not found" in answer.json()["detail"], path
    assert api.get(base + "/live", headers=headers).status_code == 404
    assert api.post(base + "/cancel", headers=headers).status_code == 404
    compare = api.get("/api/v1/compare", params={"runs": str(run["id"])}, headers=headers)
    assert compare.status_code == 404
    listed = api.get("/api/v1/runs", headers=headers).json()
    assert listed["total"] == 0 and listed["items"] == []
    # ...while its own project's members see it.
    assert api.get(base).json()["project"] == "default"
    assert api.get("/api/v1/runs").json()["total"] >= 1
    assert api.post("/api/v1/runs", json={**SPEC, "project": "vision"}).status_code == 404


def test_a_viewer_reads_but_may_not_submit_or_cancel(api, db_session_factory) -> None:
    run = create_run(api)
    viewer = make_account(db_session_factory, "vera", role=Role.viewer)
    assert api.get(f"/api/v1/runs/{run['id']}", headers=viewer.auth).status_code == 200
    cancel = api.post(f"/api/v1/runs/{run['id']}/cancel", headers=viewer.auth)
    assert cancel.status_code == 403
    assert "editor" in cancel.json()["detail"] and "viewer" in cancel.json()["detail"]
    submit = api.post("/api/v1/runs", json=SPEC, headers=viewer.auth)
    assert submit.status_code == 403 and "editor" in submit.json()["detail"]
    assert api.get(f"/api/v1/runs/{run['id']}").json()["status"] == "queued"


def test_a_key_narrowed_to_viewer_is_a_viewer_even_for_the_owner(api, db_session_factory) -> None:
    narrowed = make_account(db_session_factory, "olga", key_project="default", key_role=Role.viewer)
    submit = api.post("/api/v1/runs", json=SPEC, headers=narrowed.auth)
    assert submit.status_code == 403 and "through this API key" in submit.json()["detail"]
    me = api.get("/api/v1/auth/me", headers=narrowed.auth).json()
    assert me["projects"] == [{"name": "default", "role": "viewer"}]
    assert me["key"]["role"] == "viewer" and me["csrf_token"] is None
    # A narrowed key cannot mint a wider one.
    wider = api.post("/api/v1/keys", json={"name": "wider"}, headers=narrowed.auth)
    assert wider.status_code == 403


def test_a_key_narrowed_to_a_project_submits_there_and_sees_only_it(
    api, db_session_factory
) -> None:
    create_run(api)  # in default, where the user also is
    scoped = make_account(db_session_factory, "sam", project="vision", key_project="vision")
    with db_session_factory() as session:
        from gapwatch.server.accounts import service as accounts

        accounts.set_member(
            session,
            accounts.get_project(session, "default"),
            accounts.get_user(session, "sam"),
            Role.owner,
        )
        session.commit()
    made = api.post("/api/v1/runs", json=SPEC, headers=scoped.auth)
    assert made.status_code == 201 and made.json()["project"] == "vision"
    assert made.json()["spec"]["project"] == "vision"
    listed = api.get("/api/v1/runs", headers=scoped.auth).json()
    assert {r["project"] for r in listed["items"]} == {"vision"}
    elsewhere = api.post("/api/v1/runs", json={**SPEC, "project": "default"}, headers=scoped.auth)
    assert elsewhere.status_code == 404


def _sign_in(client: Any, name: str, password: str = PASSWORD) -> str:
    answer = client.post("/api/v1/auth/sign-in", json={"name": name, "password": password})
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # plain http on localhost
    return answer.json()["csrf_token"]


def test_a_session_needs_its_csrf_token_on_every_mutating_request(
    api, anonymous, db_session_factory
) -> None:
    run = create_run(api)
    make_account(db_session_factory, "pat", password=PASSWORD)
    csrf = _sign_in(anonymous, "pat")
    me = anonymous.get("/api/v1/auth/me").json()
    assert me["user"]["name"] == "pat" and me["via"] == "session" and me["csrf_token"] == csrf
    cancel = f"/api/v1/runs/{run['id']}/cancel"
    # What a page of another site can send: a simple text/plain POST, no custom header.
    forged = anonymous.post(cancel, content=b"{}", headers={"content-type": "text/plain"})
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    wrong = anonymous.post(cancel, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    assert api.get(f"/api/v1/runs/{run['id']}").json()["status"] == "queued"
    done = anonymous.post(cancel, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    # Signing out ends the session: the cookie no longer opens anything.
    assert (
        anonymous.post("/api/v1/auth/sign-out", headers={"X-CSRF-Token": csrf}).status_code == 204
    )
    assert anonymous.get("/api/v1/auth/me").status_code == 401


def test_sign_in_refuses_wrong_passwords_alike_and_then_limits(
    anonymous, api, db_session_factory
) -> None:
    make_account(db_session_factory, "quinn", password=PASSWORD)
    wrong = anonymous.post("/api/v1/auth/sign-in", json={"name": "quinn", "password": "nope"})
    unknown = anonymous.post("/api/v1/auth/sign-in", json={"name": "nobody", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers
    for _ in range(12):
        last = anonymous.post("/api/v1/auth/sign-in", json={"name": "quinn", "password": "no"})
    assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1
    # The right password waits too: the limit is on the name, before the check.
    right = anonymous.post("/api/v1/auth/sign-in", json={"name": "quinn", "password": PASSWORD})
    assert right.status_code == 429


def test_expired_and_revoked_sessions_open_nothing(
    anonymous, api, db_session_factory: sessionmaker[Session]
) -> None:
    make_account(db_session_factory, "rita", password=PASSWORD)
    _sign_in(anonymous, "rita")
    assert anonymous.get("/api/v1/auth/me").status_code == 200
    with db_session_factory() as session:
        session.query(WebSession).update({"expires_at": utcnow() - timedelta(seconds=1)})
        session.commit()
    # Time passing, in short: a session is remembered no longer than until it expires.
    forget_all()
    expired = anonymous.get("/api/v1/auth/me")
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    csrf = _sign_in(anonymous, "rita")
    sessions = anonymous.get("/api/v1/auth/sessions").json()
    assert [s["current"] for s in sessions] == [True]
    revoke = anonymous.delete(
        f"/api/v1/auth/sessions/{sessions[0]['id']}", headers={"X-CSRF-Token": csrf}
    )
    assert revoke.status_code == 204
    assert anonymous.get("/api/v1/auth/me").status_code == 401


def test_a_one_time_link_signs_in_once(anonymous, api, db_session_factory) -> None:
    from gapwatch.server.accounts import service as accounts

    make_account(db_session_factory, "lena")
    with db_session_factory() as session:
        token, _ = accounts.create_login_link(
            session, accounts.get_user(session, "lena"), ttl_s=900
        )
        stale, _ = accounts.create_login_link(
            session, accounts.get_user(session, "lena"), ttl_s=0.001
        )
        session.commit()
    first = anonymous.post("/api/v1/auth/link", json={"token": token})
    assert first.status_code == 200 and first.json()["user"]["name"] == "lena"
    assert anonymous.get("/api/v1/auth/me").json()["user"]["name"] == "lena"
    again = anonymous.post("/api/v1/auth/link", json={"token": token})
    assert again.status_code == 401 and "login-link" in again.json()["detail"]
    assert anonymous.post("/api/v1/auth/link", json={"token": stale}).status_code == 401


def test_keys_are_shown_once_revocable_and_never_stored_or_logged_in_clear(
    api, anonymous, db_session_factory
) -> None:
    made = api.post("/api/v1/keys", json={"name": "ci", "project": "default", "role": "editor"})
    assert made.status_code == 201, made.text
    secret, key = made.json()["secret"], made.json()["key"]
    assert secret.startswith("gw_") and secret.startswith(key["prefix"]) and len(secret) > 40
    assert key["project"] == "default" and key["role"] == "editor"
    use = {"Authorization": f"Bearer {secret}"}
    assert anonymous.post("/api/v1/runs", json=SPEC, headers=use).status_code == 201
    listed = api.get("/api/v1/keys").json()
    assert all("secret" not in k for k in listed) and key["id"] in [k["id"] for k in listed]
    with db_session_factory() as session:
        dumped = _every_text_in_the_database(session)
    assert key["prefix"] in dumped  # the dump does hold the keys table
    assert secret not in dumped and secret[3:] not in dumped
    assert api.delete(f"/api/v1/keys/{key['id']}").json()["revoked_at"] is not None
    revoked = anonymous.get("/api/v1/runs", headers=use)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]


def _every_text_in_the_database(session: Session) -> str:
    tables = session.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    ).scalars()
    rows = []
    for table in tables:
        rows += [str(r) for r in session.execute(text(f'SELECT * FROM "{table}"'))]
    return "\n".join(rows)


def test_a_disabled_users_keys_stop_at_once(api, db_session_factory) -> None:
    admin = make_account(db_session_factory, "root", is_admin=True)
    worker = make_account(db_session_factory, "wanda")
    assert api.get("/api/v1/runs", headers=worker.auth).status_code == 200
    patched = api.patch("/api/v1/users/wanda", json={"disabled": True}, headers=admin.auth)
    assert patched.status_code == 200 and patched.json()["disabled"] is True
    assert api.get("/api/v1/runs", headers=worker.auth).status_code == 401
    # Only an admin manages users; an admin cannot disable the last admin.
    assert api.get("/api/v1/users").status_code == 403
    last = api.patch("/api/v1/users/root", json={"disabled": True}, headers=admin.auth)
    assert last.status_code == 409


def test_owners_manage_members_and_a_project_keeps_an_owner(api, db_session_factory) -> None:
    make_account(db_session_factory, "mia", project=None)
    added = api.put("/api/v1/projects/default/members/mia", json={"role": "viewer"})
    assert added.status_code == 200
    members = api.get("/api/v1/projects/default/members").json()
    assert {"user": "mia", "role": "viewer"} in members
    mia = make_account(db_session_factory, "mia2", project=None)
    assert api.get("/api/v1/projects/default", headers=mia.auth).status_code == 404
    alone = api.delete("/api/v1/projects/default/members/alice")
    assert alone.status_code == 409 and "owner" in alone.json()["detail"]
    created = api.post("/api/v1/projects", json={"name": "nlp"})
    assert created.status_code == 201 and created.json()["role"] == "owner"
    assert api.post("/api/v1/projects", json={"name": "nlp"}).status_code == 409
    assert api.post("/api/v1/projects", json={"name": "Bad Name"}).status_code == 422
    run = create_run(api, project="nlp")
    busy = api.delete("/api/v1/projects/nlp")
    assert busy.status_code == 409 and "queued or running" in busy.json()["detail"]
    api.post(f"/api/v1/runs/{run['id']}/cancel")
    assert api.delete("/api/v1/projects/nlp").status_code == 204
    assert api.get(f"/api/v1/runs/{run['id']}").status_code == 404


def test_a_foreign_host_is_refused(api) -> None:
    answer = api.get("/api/v1/runs", headers={"host": "evil.example"})
    assert answer.status_code == 400 and "GAPWATCH_ALLOWED_HOSTS" in answer.json()["detail"]
    assert api.get("/health", headers={"host": "127.0.0.1:8000"}).status_code == 200


def test_bodies_are_limited_per_route(api) -> None:
    body = b'{"name": "' + b"x" * 70_000 + b'"}'
    answer = api.post("/api/v1/runs", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    # The ingest routes take more than a spec: a 20,000-point JSON batch (~0.5 MB) goes in...
    run = create_run(api)
    token = claim(api, run["id"])
    steps = list(range(20_000))
    batch = {"series": [{"key": "train/loss", "steps": steps, "values": [0.5] * 20_000}]}
    stored = api.post(f"/api/v1/runs/{run['id']}/metrics", json=batch, headers=token)
    assert stored.status_code == 200 and stored.json()["stored"] == 20_000
    # ...but events stop at 1 MiB.
    events = {
        "events": [{"step": i, "kind": "note", "payload": {"x": "y" * 200}} for i in range(6000)]
    }
    refused = api.post(f"/api/v1/runs/{run['id']}/events", json=events, headers=token)
    assert refused.status_code == 413
    assert api.get(f"/api/v1/runs/{run['id']}/events").json()["events"] == []


def test_a_worker_claims_with_its_secret_and_writes_with_the_run_token(api) -> None:
    run = create_run(api)
    token = claim(api, run["id"])
    beat = api.post(
        f"/api/v1/runs/{run['id']}/heartbeat", json={"step": 1, "total_steps": 5}, headers=token
    )
    assert beat.status_code == 200
    # A run token opens its run's writes, nothing else.
    assert api.get(f"/api/v1/runs/{run['id']}", headers=token).status_code == 401
    too_far = api.post(
        f"/api/v1/runs/{run['id']}/heartbeat",
        json={"step": 2**53 + 1, "total_steps": 2**53 + 1},
        headers=token,
    )
    assert too_far.status_code == 422


def test_a_wrong_worker_or_run_secret_is_refused_before_the_body_is_read(api, anonymous) -> None:
    run = create_run(api)
    claim(api, run["id"])
    garbage = b"{not json"
    wrong = {"Authorization": "Bearer not-the-run-token", "content-type": "application/json"}
    for action in ("events", "heartbeat", "finish", "metrics"):
        path = f"/api/v1/runs/{run['id']}/{action}"
        answer = anonymous.post(path, content=garbage, headers=wrong)
        assert answer.status_code == 403, (action, answer.text)
        # The same answer for a run that does not exist: a wrong token learns nothing.
        for other in ("987654321", "9223372036854775808", "x"):
            unknown = anonymous.post(
                f"/api/v1/runs/{other}/{action}", content=garbage, headers=wrong
            )
            assert unknown.status_code == 403, (action, other, unknown.text)
        nothing = anonymous.post(path, content=garbage, headers={"content-type": "text/plain"})
        assert nothing.status_code == 401
    claim_path = f"/api/v1/runs/{run['id']}/claim"
    assert anonymous.post(claim_path, content=garbage, headers=wrong).status_code == 403


def test_a_spec_too_big_for_a_worker_is_refused_at_submission(api) -> None:
    wide = {**SPEC, "model": {"name": "mlp", "hidden_sizes": [16_384] * 16}}
    answer = api.post("/api/v1/runs", json=wide)
    assert answer.status_code == 422
    error = answer.json()["detail"][0]
    assert error["loc"][:2] == ["body", "model"]
    assert "parameters" in error["msg"] and "GAPWATCH_MAX_PARAMETERS" in error["msg"]
    assert "200,000,000" in error["msg"]
    huge_data = {
        **SPEC,
        "benchmark": {
            "name": "synthetic",
            "n_tasks": 2,
            "classes_per_task": 20,
            "dim": 4096,
            "train_per_class": 25_000,
        },
    }
    refused = api.post("/api/v1/runs", json=huge_data)
    assert refused.status_code == 422
    assert "GAPWATCH_MAX_MEMORY_BYTES" in refused.json()["detail"][0]["msg"]
    assert api.get("/api/v1/runs").json()["total"] == 0


def test_successful_sign_ins_do_not_count_but_failures_do(anonymous, db_session_factory) -> None:
    make_account(db_session_factory, "sol", password=PASSWORD)
    for _ in range(15):  # more than the limit of failures: successes are given back
        _sign_in(anonymous, "sol")
    for _ in range(10):
        anonymous.post("/api/v1/auth/sign-in", json={"name": "sol", "password": "wrong"})
    assert (
        anonymous.post("/api/v1/auth/sign-in", json={"name": "sol", "password": PASSWORD})
    ).status_code == 429
    # Failed password sign-ins under any name never block one-time links.
    for _ in range(12):
        anonymous.post("/api/v1/auth/sign-in", json={"name": "link", "password": "x"})
    assert anonymous.post("/api/v1/auth/link", json={"token": "nope"}).status_code == 401


def test_admin_links_carry_the_token_in_the_fragment(api, db_session_factory) -> None:
    admin = make_account(db_session_factory, "root", is_admin=True)
    make_account(db_session_factory, "nina", project=None)
    link = api.post("/api/v1/users/nina/login-link", headers=admin.auth)
    assert link.status_code == 200
    url = link.json()["url"]
    assert "/sign-in#token=" in url and "?token" not in url
    # Disabling nina spends her unused links: enabling her again does not revive them.
    api.patch("/api/v1/users/nina", json={"disabled": True}, headers=admin.auth)
    api.patch("/api/v1/users/nina", json={"disabled": False}, headers=admin.auth)
    token = url.split("#token=")[1]
    assert api.post("/api/v1/auth/link", json={"token": token}).status_code == 401


def test_a_new_password_signs_out_every_other_session(anonymous, app, db_session_factory) -> None:
    from fastapi.testclient import TestClient

    from tests.server.conftest import BASE_URL

    make_account(db_session_factory, "otto", password=PASSWORD)
    other = TestClient(app, base_url=BASE_URL)
    _sign_in(other, "otto")
    assert other.get("/api/v1/auth/me").status_code == 200  # now remembered as valid
    csrf = _sign_in(anonymous, "otto")
    changed = anonymous.put(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "another long one"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 204
    assert anonymous.get("/api/v1/auth/me").status_code == 200
    assert other.get("/api/v1/auth/me").status_code == 401


def test_narrowed_keys_cannot_touch_sessions_and_keys_do_not_outlive_their_maker(
    api, anonymous, db_session_factory
) -> None:
    narrowed = make_account(db_session_factory, "nora", key_project="default")
    assert api.get("/api/v1/auth/sessions", headers=narrowed.auth).status_code == 403
    assert api.delete("/api/v1/auth/sessions/1", headers=narrowed.auth).status_code == 403
    short = api.post("/api/v1/keys", json={"name": "short", "expires_in_days": 1}).json()
    made = api.post(
        "/api/v1/keys",
        json={"name": "forever"},
        headers={"Authorization": f"Bearer {short['secret']}"},
    ).json()
    assert made["key"]["expires_at"] == short["key"]["expires_at"]


def test_submissions_are_limited_per_person_whatever_key_they_use(
    settings, db_session_factory
) -> None:
    from tests.server.conftest import client_with_account

    limited = settings.model_copy(update={"submit_rate_per_minute": 2})
    with client_with_account(limited, session_factory=db_session_factory) as client:
        answers = [client.post("/api/v1/runs", json=SPEC).status_code for _ in range(3)]
        assert answers == [201, 201, 429]
        fresh = client.post("/api/v1/keys", json={"name": "another"}).json()["secret"]
        again = client.post("/api/v1/runs", json=SPEC, headers={"Authorization": f"Bearer {fresh}"})
        assert again.status_code == 429 and int(again.headers["retry-after"]) >= 1


def test_huge_ids_and_control_characters_are_client_errors(api, anonymous) -> None:
    big = 2**63
    for path in (f"/api/v1/runs/{big}", f"/api/v1/runs/{big}/summary", f"/api/v1/runs/{big}/live"):
        assert api.get(path).status_code == 422, path
    assert api.post(f"/api/v1/runs/{big}/cancel").status_code == 422
    assert api.delete(f"/api/v1/keys/{big}").status_code == 422
    assert api.get("/api/v1/compare", params={"runs": str(big)}).status_code == 422
    for body in (
        {"name": "alice\u0000", "password": "x"},
        {"name": "\ud800", "password": "x"},
        {"name": "alice", "password": "\ud800"},
    ):
        answer = anonymous.post(
            "/api/v1/auth/sign-in",
            content=json.dumps(body),  # ensure_ascii: a lone surrogate as \\ud800
            headers={"content-type": "application/json"},
        )
        assert answer.status_code == 422, (body, answer.text)
    link = anonymous.post(
        "/api/v1/auth/link",
        content=json.dumps({"token": "\ud800"}),
        headers={"content-type": "application/json"},
    )
    assert link.status_code == 422
