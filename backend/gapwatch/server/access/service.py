"""The access floor's decisions: who is calling, and may they touch this run or project.

Every domain asks here; this module imports no domain. A run the caller may not see is a 404,
exactly like a run that does not exist, so that ids of other projects' runs leak nothing; a
run the caller sees but may not change is a 403 that names the missing role.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy.orm import Session

from gapwatch.components import DEFAULT_PROJECT
from gapwatch.server.access import repository
from gapwatch.server.access.principal import Principal
from gapwatch.server.access.tokens import (
    csrf_token_for,
    hash_secret,
    is_api_key,
    secrets_equal,
)
from gapwatch.server.errors import Conflict, Forbidden, NotFound, Unauthorized
from gapwatch.server.models import Project, Role, Run, RunStatus
from gapwatch.server.models.base import utcnow


def principal_from_key(session: Session, key: str) -> Principal:
    """The caller behind an API key; 401 if it is unknown, revoked, expired or its user is
    disabled."""
    if not is_api_key(key):
        raise Unauthorized("not an API key (keys start with 'gw_')")
    row = repository.key_caller(session, hash_secret(key))
    if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
        raise Unauthorized("invalid, expired or revoked API key")
    return Principal(
        user_id=row.user_id,
        user_name=row.name,
        is_admin=row.is_admin,
        via="key",
        key_id=row.id,
        key_project_id=row.project_id,
        key_role=Role(row.role) if row.role else None,
        expires_at=row.expires_at,
    )


def principal_from_session(session: Session, cookie: str) -> Principal | None:
    """The person signed in with this session cookie, or None if it is not (any more) valid."""
    row = repository.session_caller(session, hash_secret(cookie), utcnow())
    if row is None:
        return None
    return Principal(
        user_id=row.user_id,
        user_name=row.name,
        is_admin=row.is_admin,
        via="session",
        session_id=row.id,
        csrf_token=csrf_token_for(cookie),
        expires_at=row.expires_at,
    )


def check_csrf(principal: Principal, header_value: str | None) -> None:
    """A mutating request made with the session cookie must carry the session's CSRF token."""
    if principal.via != "session":
        return
    if not header_value or not secrets_equal(header_value, principal.csrf_token or ""):
        raise Forbidden("missing or wrong X-CSRF-Token header (sign in again if this persists)")


def _refuse(principal: Principal, role: Role | None, need: Role, project_name: str) -> None:
    if role is None or role.includes(need):
        return
    via = " through this API key" if principal.via == "key" else ""
    raise Forbidden(f"this needs the {need} role in project {project_name!r}; you have {role}{via}")


def authorize_run(session: Session, principal: Principal, run_id: int, need: Role) -> Run:
    """The run if the caller has `need` in its project; 404 if they cannot see it, 403 if
    they see it with a lesser role."""
    found = repository.run_with_member_role(session, run_id, principal.user_id)
    role = None if found is None else principal.role_in(found[0].project_id, found[1])
    if found is None or role is None:
        raise NotFound(f"run {run_id} not found")
    run = found[0]
    _refuse(principal, role, need, run.project.name)
    return run


def still_readable(
    session: Session, readers: Collection[tuple[Principal, int]]
) -> set[tuple[Principal, int]]:
    """For long answers (live streams): of these (caller, project id) pairs, those whose
    credential still holds (the key or web session unrevoked and unexpired, the user enabled)
    and who may still read runs of that project. Two statements, whatever the number of pairs
    (the watchers of every live stream of a process)."""
    if not readers:
        return set()
    now = utcnow()
    keys, sessions = repository.alive_credentials(
        session,
        key_ids={p.key_id for p, _ in readers if p.key_id is not None},
        session_ids={p.session_id for p, _ in readers if p.session_id is not None},
        now=now,
    )
    roles = repository.member_roles(
        session, {p.user_id for p, _ in readers}, {project for _, project in readers}
    )
    allowed = set()
    for principal, project_id in readers:
        alive = (
            principal.key_id in keys
            if principal.key_id is not None
            else principal.session_id in sessions
        )
        role = roles.get((principal.user_id, project_id))
        if alive and principal.role_in(project_id, role) is not None:
            allowed.add((principal, project_id))
    return allowed


def authorize_project(
    session: Session, principal: Principal, name: str, need: Role
) -> tuple[Project, Role]:
    """The project and the caller's role in it; 404 if they are not in it, 403 if the role
    is too small."""
    found = repository.project_with_member_role(session, name, principal.user_id)
    role = None if found is None else principal.role_in(found[0].id, found[1])
    if found is None or role is None:
        raise NotFound(f"project {name!r} not found")
    _refuse(principal, role, need, name)
    return found[0], role


def default_project_name(session: Session, principal: Principal) -> str:
    """Where a run goes when its spec names no project: the key's project, else 'default'."""
    if principal.key_project_id is not None:
        project = session.get(Project, principal.key_project_id)
        if project is not None:
            return project.name
    return DEFAULT_PROJECT


def visible_project_ids(session: Session, principal: Principal) -> list[int] | None:
    """The projects whose runs the caller may read; None means every project (an admin)."""
    if principal.sees_every_project:
        return None
    if principal.is_admin:
        return [principal.key_project_id] if principal.key_project_id is not None else []
    roles = repository.member_project_roles(session, principal.user_id)
    return [p for p, r in roles.items() if principal.role_in(p, r) is not None]


def project_roles(session: Session, principal: Principal) -> dict[int, Role]:
    """{project id: the caller's role} over every project the caller can see."""
    roles = repository.member_project_roles(session, principal.user_id)
    ids: Iterable[int] = repository.all_project_ids(session) if principal.is_admin else roles
    out = {}
    for project_id in ids:
        role = principal.role_in(project_id, roles.get(project_id))
        if role is not None:
            out[project_id] = role
    return out


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("this needs an administrator")
    if principal.via == "key" and (principal.key_project_id or principal.key_role):
        raise Forbidden("this needs an administrator's session or unrestricted API key")


# --- workers and their run tokens ---------------------------------------------------------


def check_worker_secret(expected: str, given: str) -> None:
    """Only holders of the secret shared with workers may claim runs."""
    if not secrets_equal(given, expected):
        raise Forbidden("invalid worker token")


def check_run_token(run_id: int, token_hash: str | None, token: str) -> None:
    """403 unless `token` is the one issued when the run was claimed (`token_hash`: None for a
    run never claimed, or one that does not exist: the same 403, so that a wrong token tells
    nothing about which runs exist).

    A run token is scoped to its run: a leaked token can write into that run and no other.
    """
    if token_hash is None or not secrets_equal(token_hash, hash_secret(token)):
        raise Forbidden(f"token is not valid for run {run_id}")


def check_run_token_of(session: Session, run_and_token: tuple[int, str]) -> bool:
    """`check_run_token` for a run known by id (one primary-key lookup); True, or it raises."""
    run_id, token = run_and_token
    check_run_token(run_id, repository.run_token_hash(session, run_id), token)
    return True


def require_writable(run_id: int, status: str) -> None:
    """Points and events are accepted only while the run is running."""
    if status != RunStatus.running:
        raise Conflict(f"run {run_id} is {status}; it accepts no more data")
