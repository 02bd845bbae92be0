"""Decisions about accounts: users, sign-in, sessions, one-time links, API keys, projects and
their members. Used by the API and by the `gapwatch users|keys|projects|login-link` commands.

Services flush; the caller commits. Secrets are returned once, to be shown once, and stored
only as hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gapwatch.components import DEFAULT_PROJECT
from gapwatch.config import Settings
from gapwatch.server.access import service as access
from gapwatch.server.access.passwords import hash_password, needs_rehash, verify_password
from gapwatch.server.access.principal import Principal
from gapwatch.server.access.recent import forget_all
from gapwatch.server.access.tokens import (
    API_KEY_PREFIX,
    hash_secret,
    new_secret,
    shown_prefix,
)
from gapwatch.server.accounts import repository
from gapwatch.server.datasets import service as datasets
from gapwatch.server.errors import Conflict, Forbidden, NotFound, Unauthorized
from gapwatch.server.models import (
    ApiKey,
    LoginLink,
    Membership,
    Project,
    Role,
    User,
    WebSession,
)
from gapwatch.server.models.base import utcnow

WRONG_CREDENTIALS = "wrong user name or password"
BAD_LINK = (
    "this sign-in link is invalid, already used or expired; ask for a new one "
    "(`gapwatch login-link`)"
)

# --- users ------------------------------------------------------------------------------------


def get_user(session: Session, name: str) -> User:
    user = repository.user_by_name(session, name)
    if user is None:
        raise NotFound(f"user {name!r} not found")
    return user


def create_user(
    session: Session, name: str, *, password: str | None, is_admin: bool = False
) -> User:
    """A new user; the first admin also becomes owner of the `default` project if it has
    none (the runs of a database from before accounts live there)."""
    if repository.user_by_name(session, name) is not None:
        raise Conflict(f"user {name!r} already exists")
    user = User(
        name=name,
        password_hash=hash_password(password) if password else None,
        is_admin=is_admin,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    if is_admin:
        default = repository.project_by_name(session, DEFAULT_PROJECT)
        if default is None:
            default = Project(name=DEFAULT_PROJECT, created_at=utcnow())
            session.add(default)
            session.flush()
        if repository.owner_count(session, default.id) == 0:
            session.add(Membership(project_id=default.id, user_id=user.id, role=Role.owner))
            session.flush()
    return user


def users(session: Session) -> Sequence[User]:
    return repository.users(session)


def user_count(session: Session) -> int:
    return repository.user_count(session)


def update_user(
    session: Session, name: str, *, disabled: bool | None = None, is_admin: bool | None = None
) -> User:
    """Disable or enable a user (a disabled user's sessions and keys stop working at once),
    or change whether they administer. The last enabled admin stays one."""
    user = get_user(session, name)
    losing_admin = (disabled and user.is_admin) or (is_admin is False and user.is_admin)
    if losing_admin and not user.disabled_at:
        others = [u for u in repository.users(session) if u.is_admin and not u.disabled_at]
        if len(others) <= 1:
            raise Conflict(f"{name!r} is the last enabled admin")
    if disabled is not None:
        user.disabled_at = utcnow() if disabled else None
        if disabled:
            repository.revoke_sessions_of(session, user.id, utcnow())
            repository.spend_login_links_of(session, user.id, utcnow())
    if is_admin is not None:
        user.is_admin = is_admin
    session.flush()
    forget_all()
    return user


def set_password(
    session: Session,
    user_id: int,
    new_password: str,
    *,
    current_password: str | None,
    keep_session_id: int | None = None,
) -> None:
    """Set a user's password (the current one is required once there is one) and sign out
    every other session of theirs: whoever knew the old password is out."""
    user = session.get(User, user_id)
    assert user is not None
    if user.password_hash is not None and not verify_password(
        user.password_hash, current_password or ""
    ):
        raise Forbidden("the current password is wrong")
    user.password_hash = hash_password(new_password)
    repository.revoke_sessions_of(session, user.id, utcnow(), keep=keep_session_id)
    session.flush()
    forget_all()


# --- sign-in ----------------------------------------------------------------------------------


def _printable(text: str | None, limit: int) -> str | None:
    """A header value as stored: printable characters only (no NUL, no surrogates), cut."""
    kept = "".join(c for c in (text or "") if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF)
    return kept[:limit] or None


def _new_session(
    session: Session, user: User, ttl_s: float, user_agent: str | None, address: str | None
) -> tuple[WebSession, str]:
    secret = new_secret()
    now = utcnow()
    web = WebSession(
        user_id=user.id,
        token_hash=hash_secret(secret),
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
        user_agent=_printable(user_agent, 200),
        address=_printable(address, 64),
    )
    session.add(web)
    session.flush()
    return web, secret


def sign_in(
    session: Session,
    name: str,
    password: str,
    *,
    ttl_s: float,
    user_agent: str | None = None,
    address: str | None = None,
) -> tuple[User, WebSession, str]:
    """A new dashboard session for a correct name and password; 401 otherwise (the same
    answer, in the same time, for an unknown name)."""
    user = repository.user_by_name(session, name)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled_at is not None:
        raise Unauthorized(WRONG_CREDENTIALS)
    assert user.password_hash is not None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    web, secret = _new_session(session, user, ttl_s, user_agent, address)
    return user, web, secret


def create_login_link(session: Session, user: User, *, ttl_s: float) -> tuple[str, datetime]:
    """A one-time sign-in token for `user` and when it expires."""
    if user.disabled_at is not None:
        raise Conflict(f"user {user.name!r} is disabled")
    secret = new_secret()
    now = utcnow()
    expires = now + timedelta(seconds=ttl_s)
    session.add(
        LoginLink(
            user_id=user.id, token_hash=hash_secret(secret), created_at=now, expires_at=expires
        )
    )
    session.flush()
    return secret, expires


def sign_in_with_link(
    session: Session,
    token: str,
    *,
    ttl_s: float,
    user_agent: str | None = None,
    address: str | None = None,
) -> tuple[User, WebSession, str]:
    """Exchange a one-time link for a session; the link is spent whatever happens next."""
    user_id = repository.use_login_link(session, hash_secret(token), utcnow())
    user = session.get(User, user_id) if user_id is not None else None
    if user is None or user.disabled_at is not None:
        raise Unauthorized(BAD_LINK)
    web, secret = _new_session(session, user, ttl_s, user_agent, address)
    return user, web, secret


def sign_out(session: Session, principal: Principal) -> None:
    if principal.session_id is not None:
        revoke_session(session, principal, principal.session_id)


def sessions(session: Session, principal: Principal) -> Sequence[WebSession]:
    return repository.sessions_of(session, principal.user_id, utcnow())


def revoke_session(session: Session, principal: Principal, session_id: int) -> None:
    web = session.get(WebSession, session_id)
    if web is None or web.user_id != principal.user_id:
        raise NotFound(f"session {session_id} not found")
    if web.revoked_at is None:
        web.revoked_at = utcnow()
        session.flush()
        forget_all()


# --- API keys ---------------------------------------------------------------------------------


def create_key(
    session: Session,
    user: User,
    name: str,
    *,
    project: Project | None = None,
    role: Role | None = None,
    expires_in_days: int | None = None,
) -> tuple[ApiKey, str]:
    """A new API key of `user`, optionally narrowed to one project and a role; returns the
    row and the key, which exists nowhere else after this call."""
    if role is Role.owner:
        raise Forbidden("an API key can be viewer or editor at most")
    secret = new_secret(API_KEY_PREFIX)
    now = utcnow()
    key = ApiKey(
        user_id=user.id,
        name=name,
        prefix=shown_prefix(secret),
        key_hash=hash_secret(secret),
        project_id=project.id if project else None,
        role=role.value if role else None,
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(key)
    session.flush()
    return key, secret


def create_key_for(
    session: Session,
    principal: Principal,
    name: str,
    *,
    project: str | None,
    role: Role | None,
    expires_in_days: int | None,
) -> tuple[ApiKey, str]:
    """The API's key creation: by a person, or an unrestricted key, for themselves."""
    if not principal.may_manage_credentials():
        raise Forbidden("a key narrowed to a project or role cannot create keys")
    found = access.authorize_project(session, principal, project, Role.viewer) if project else None
    user = session.get(User, principal.user_id)
    assert user is not None
    key, secret = create_key(
        session,
        user,
        name,
        project=found[0] if found else None,
        role=role,
        expires_in_days=expires_in_days,
    )
    # A key made by a key does not outlive it.
    maker = session.get(ApiKey, principal.key_id) if principal.key_id is not None else None
    if maker is not None and maker.expires_at is not None:
        if key.expires_at is None or key.expires_at > maker.expires_at:
            key.expires_at = maker.expires_at
            session.flush()
    return key, secret


def keys(session: Session, user_id: int) -> Sequence[ApiKey]:
    return repository.keys_of(session, user_id)


def revoke_key(session: Session, user_id: int, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.user_id != user_id:
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
        forget_all()
    return key


def project_names(session: Session, ids: Sequence[int | None]) -> dict[int, str]:
    found = repository.projects_by_id(session, [i for i in ids if i is not None])
    return {project_id: project.name for project_id, project in found.items()}


# --- projects and members ---------------------------------------------------------------------


def get_project(session: Session, name: str) -> Project:
    project = repository.project_by_name(session, name)
    if project is None:
        raise NotFound(f"project {name!r} not found")
    return project


def create_project(session: Session, owner: User, name: str) -> Project:
    if repository.project_by_name(session, name) is not None:
        raise Conflict(f"project {name!r} already exists")
    project = Project(name=name, created_at=utcnow())
    session.add(project)
    session.flush()
    session.add(Membership(project_id=project.id, user_id=owner.id, role=Role.owner))
    session.flush()
    return project


def create_project_for(session: Session, principal: Principal, name: str) -> Project:
    if not principal.may_manage_credentials():
        raise Forbidden("a key narrowed to a project or role cannot create projects")
    user = session.get(User, principal.user_id)
    assert user is not None
    return create_project(session, user, name)


def projects(session: Session, principal: Principal) -> list[tuple[Project, Role]]:
    roles = access.project_roles(session, principal)
    found = repository.projects_by_id(session, list(roles))
    return sorted(((found[i], roles[i]) for i in roles), key=lambda item: item[0].name)


def every_project_with_members(
    session: Session,
) -> list[tuple[Project, list[tuple[str, str]]]]:
    """Every project by name with its (user, role) members: the server host's view."""
    return [
        (project, repository.members(session, project.id))
        for project in repository.all_projects(session)
    ]


def delete_project(session: Session, principal: Principal, name: str, settings: Settings) -> None:
    """Delete a project with its runs and their points, and its datasets with their files
    unless another project shares them (owner); 409 while a run is active."""
    project, _ = access.authorize_project(session, principal, name, Role.owner)
    active = repository.active_run_count(session, project.id)
    if active:
        raise Conflict(f"project {name!r} has {active} queued or running run(s); cancel them")
    datasets.release_project_files(session, project, settings)
    session.delete(project)
    session.flush()
    forget_all()  # keys narrowed to it are gone with it


def members(session: Session, principal: Principal, name: str) -> list[tuple[str, str]]:
    project, _ = access.authorize_project(session, principal, name, Role.viewer)
    return repository.members(session, project.id)


def set_member(session: Session, project: Project, user: User, role: Role) -> None:
    """Add `user` to `project` with `role`, or change their role; the last owner stays."""
    found = repository.membership(session, project.id, user.id)
    if found is not None and found.role == Role.owner and role is not Role.owner:
        _keep_an_owner(session, project)
    if found is None:
        session.add(Membership(project_id=project.id, user_id=user.id, role=role))
    else:
        found.role = role
    session.flush()


def _keep_an_owner(session: Session, project: Project) -> None:
    if repository.owner_count(session, project.id) <= 1:
        raise Conflict(f"project {project.name!r} must keep an owner")


def set_member_for(
    session: Session, principal: Principal, name: str, user_name: str, role: Role
) -> None:
    project, _ = access.authorize_project(session, principal, name, Role.owner)
    set_member(session, project, get_user(session, user_name), role)


def remove_member_for(session: Session, principal: Principal, name: str, user_name: str) -> None:
    project, _ = access.authorize_project(session, principal, name, Role.owner)
    user = get_user(session, user_name)
    found = repository.membership(session, project.id, user.id)
    if found is None:
        raise NotFound(f"{user_name!r} is not a member of {name!r}")
    if found.role == Role.owner:
        _keep_an_owner(session, project)
    session.delete(found)
    session.flush()
