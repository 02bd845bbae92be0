"""Accounts over HTTP: sign-in and sign-out, who am I, sessions, API keys, projects, members
and (for admins) users."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from gapwatch.components import PROJECT_NAME_PATTERN
from gapwatch.config import Settings
from gapwatch.server.access import service as access
from gapwatch.server.access.principal import Principal
from gapwatch.server.access.tokens import SESSION_COOKIE, csrf_token_for
from gapwatch.server.accounts import service
from gapwatch.server.accounts.schemas import (
    USER_NAME_PATTERN,
    KeyCreate,
    KeyCreated,
    KeyRead,
    LinkSignInRequest,
    LoginLinkRead,
    Me,
    MemberRead,
    MemberSet,
    PasswordChange,
    ProjectCreate,
    ProjectRead,
    ProjectRole,
    SessionRead,
    SignedIn,
    SignInRequest,
    UserCreate,
    UserRead,
    UserUpdate,
)
from gapwatch.server.deps import Caller, RowId, SessionDep, SettingsDep
from gapwatch.server.errors import Forbidden, TooManyRequests
from gapwatch.server.models import ApiKey, Project, Role, User, WebSession

auth_router = APIRouter(prefix="/auth", tags=["accounts"])
keys_router = APIRouter(prefix="/keys", tags=["accounts"])
projects_router = APIRouter(prefix="/projects", tags=["accounts"])
users_router = APIRouter(prefix="/users", tags=["accounts"])

ProjectPath = Annotated[str, Path(pattern=PROJECT_NAME_PATTERN)]
UserPath = Annotated[str, Path(pattern=USER_NAME_PATTERN)]
SIGN_IN_PAGE = "/sign-in"


def _manage_credentials(caller: Principal) -> None:
    if not caller.may_manage_credentials():
        raise Forbidden("a key narrowed to a project or role cannot manage keys or sessions")


def user_read(user: User) -> UserRead:
    return UserRead(
        name=user.name,
        is_admin=user.is_admin,
        has_password=user.password_hash is not None,
        disabled=user.disabled_at is not None,
        created_at=user.created_at,
    )


def key_read(key: ApiKey, project_names: dict[int, str]) -> KeyRead:
    return KeyRead(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        project=project_names.get(key.project_id) if key.project_id else None,
        role=key.role,  # type: ignore[arg-type]
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )


def _secure(request: Request, settings: Settings) -> bool:
    if settings.secure_cookies != "auto":
        return settings.secure_cookies == "always"
    return request.url.scheme == "https" or settings.resolved_public_url.startswith("https:")


def _start_session(
    request: Request,
    response: Response,
    settings: Settings,
    user: User,
    web: WebSession,
    secret: str,
) -> SignedIn:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(settings.session_ttl_s),
        path="/",
        httponly=True,
        secure=_secure(request, settings),
        samesite="strict",
    )
    response.headers["Cache-Control"] = "no-store"
    return SignedIn(
        user=user_read(user), csrf_token=csrf_token_for(secret), expires_at=web.expires_at
    )


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@contextmanager
def _sign_in_attempt(request: Request, keys: list[str]) -> Iterator[None]:
    """Count an attempt under each key before it is checked, and give it back if it succeeds:
    only failures count, and parallel guesses cannot all pass a check made before any of them
    was counted. 429 while a key has too many recent failures."""
    limiter = request.app.state.sign_in_limiter
    counted, waits = [], []
    for key in keys:
        wait = limiter.hit(key)
        if wait is None:
            counted.append(key)
        else:
            waits.append(wait)
    if waits:
        for key in counted:
            limiter.refund(key)
        wait = max(waits)
        raise TooManyRequests(
            f"too many failed sign-ins; try again in {math.ceil(wait)} s", retry_after_s=wait
        )
    yield
    for key in counted:
        limiter.refund(key)


@auth_router.post("/sign-in", response_model=SignedIn, operation_id="auth-sign-in")
def sign_in(
    body: SignInRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
) -> SignedIn:
    """Sign in with a name and password: sets the session cookie, returns the CSRF token."""
    keys = [f"name:{body.name.lower()}", f"address:{_client_address(request)}"]
    with _sign_in_attempt(request, keys):
        user, web, secret = service.sign_in(
            session,
            body.name,
            body.password,
            ttl_s=settings.session_ttl_s,
            user_agent=request.headers.get("user-agent"),
            address=_client_address(request),
        )
    return _start_session(request, response, settings, user, web, secret)


@auth_router.post("/link", response_model=SignedIn, operation_id="auth-link")
def sign_in_with_link(
    body: LinkSignInRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
) -> SignedIn:
    """Exchange a one-time sign-in link's token for a session (the link is then spent)."""
    # Guessing a 256-bit token is hopeless; the limit only keeps one address from hammering.
    # Its bucket is its own, so that failed password sign-ins never block links.
    with _sign_in_attempt(request, [f"link-address:{_client_address(request)}"]):
        user, web, secret = service.sign_in_with_link(
            session,
            body.token,
            ttl_s=settings.session_ttl_s,
            user_agent=request.headers.get("user-agent"),
            address=_client_address(request),
        )
    return _start_session(request, response, settings, user, web, secret)


@auth_router.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT, operation_id="auth-sign-out")
def sign_out(caller: Caller, session: SessionDep, response: Response) -> None:
    """End this dashboard session (and clear its cookie)."""
    service.sign_out(session, caller)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


def _me(session: SessionDep, caller: Principal) -> Me:
    user = session.get(User, caller.user_id)
    assert user is not None
    key = None
    if caller.key_id is not None:
        found = session.get(ApiKey, caller.key_id)
        assert found is not None
        key = key_read(found, service.project_names(session, [found.project_id]))
    return Me(
        user=user_read(user),
        via=caller.via,
        csrf_token=caller.csrf_token,
        projects=[
            ProjectRole(name=project.name, role=role.value)  # type: ignore[arg-type]
            for project, role in service.projects(session, caller)
        ],
        key=key,
    )


@auth_router.get("/me", response_model=Me, operation_id="auth-me")
def who_am_i(caller: Caller, session: SessionDep) -> Me:
    """Who is calling: the user, the CSRF token of a session, and the role in each project."""
    return _me(session, caller)


@auth_router.put("/password", status_code=status.HTTP_204_NO_CONTENT, operation_id="auth-password")
def change_password(body: PasswordChange, caller: Caller, session: SessionDep) -> None:
    """Set your password (the current one is required once you have one)."""
    if caller.via != "session":
        raise Forbidden("change a password from a dashboard session")
    service.set_password(
        session,
        caller.user_id,
        body.new_password,
        current_password=body.current_password,
        keep_session_id=caller.session_id,
    )


@auth_router.get("/sessions", response_model=list[SessionRead], operation_id="auth-sessions")
def list_sessions(caller: Caller, session: SessionDep) -> list[SessionRead]:
    """Your signed-in dashboard sessions."""
    _manage_credentials(caller)
    return [
        SessionRead(
            id=web.id,
            created_at=web.created_at,
            expires_at=web.expires_at,
            current=web.id == caller.session_id,
            user_agent=web.user_agent,
            address=web.address,
        )
        for web in service.sessions(session, caller)
    ]


@auth_router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="auth-sessions-revoke",
)
def revoke_session(session_id: RowId, caller: Caller, session: SessionDep) -> None:
    """Sign one of your sessions out."""
    _manage_credentials(caller)
    service.revoke_session(session, caller, session_id)


@keys_router.get("", response_model=list[KeyRead], operation_id="keys-list")
def list_keys(caller: Caller, session: SessionDep) -> list[KeyRead]:
    """Your API keys (revoked ones included), without their secrets."""
    rows = service.keys(session, caller.user_id)
    names = service.project_names(session, [k.project_id for k in rows])
    return [key_read(k, names) for k in rows]


@keys_router.post(
    "", response_model=KeyCreated, status_code=status.HTTP_201_CREATED, operation_id="keys-create"
)
def create_key(body: KeyCreate, caller: Caller, session: SessionDep) -> KeyCreated:
    """Create an API key; its secret is in this answer only."""
    key, secret = service.create_key_for(
        session,
        caller,
        body.name,
        project=body.project,
        role=Role(body.role) if body.role else None,
        expires_in_days=body.expires_in_days,
    )
    names = service.project_names(session, [key.project_id])
    return KeyCreated(key=key_read(key, names), secret=secret)


@keys_router.delete("/{key_id}", response_model=KeyRead, operation_id="keys-revoke")
def revoke_key(key_id: RowId, caller: Caller, session: SessionDep) -> KeyRead:
    """Revoke one of your API keys: it stops working at once."""
    _manage_credentials(caller)
    key = service.revoke_key(session, caller.user_id, key_id)
    return key_read(key, service.project_names(session, [key.project_id]))


def _project_read(project_and_role: tuple[Project, Role]) -> ProjectRead:
    project, role = project_and_role
    return ProjectRead(
        name=project.name,
        role=role.value,  # type: ignore[arg-type]
        created_at=project.created_at,
    )


@projects_router.get("", response_model=list[ProjectRead], operation_id="projects-list")
def list_projects(caller: Caller, session: SessionDep) -> list[ProjectRead]:
    """The projects you belong to, with your role in each."""
    return [_project_read(item) for item in service.projects(session, caller)]


@projects_router.post(
    "",
    response_model=ProjectRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="projects-create",
)
def create_project(body: ProjectCreate, caller: Caller, session: SessionDep) -> ProjectRead:
    """Create a project; you become its owner."""
    return _project_read((service.create_project_for(session, caller, body.name), Role.owner))


@projects_router.get("/{name}", response_model=ProjectRead, operation_id="projects-get")
def get_project(name: ProjectPath, caller: Caller, session: SessionDep) -> ProjectRead:
    """One of your projects with your role."""
    return _project_read(access.authorize_project(session, caller, name, Role.viewer))


@projects_router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, operation_id="projects-delete"
)
def delete_project(
    name: ProjectPath, caller: Caller, session: SessionDep, settings: SettingsDep
) -> None:
    """Delete a project with all its runs and datasets (owner; refused while a run is queued or
    running)."""
    service.delete_project(session, caller, name, settings)


@projects_router.get(
    "/{name}/members", response_model=list[MemberRead], operation_id="projects-members"
)
def list_members(name: ProjectPath, caller: Caller, session: SessionDep) -> list[MemberRead]:
    """The project's members and their roles."""
    return [
        MemberRead(user=user, role=role)  # type: ignore[arg-type]
        for user, role in service.members(session, caller, name)
    ]


@projects_router.put(
    "/{name}/members/{user}", response_model=MemberRead, operation_id="projects-members-set"
)
def set_member(
    name: ProjectPath, user: UserPath, body: MemberSet, caller: Caller, session: SessionDep
) -> MemberRead:
    """Add a person to the project, or change their role (owner)."""
    service.set_member_for(session, caller, name, user, Role(body.role))
    return MemberRead(user=user, role=body.role)


@projects_router.delete(
    "/{name}/members/{user}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="projects-members-remove",
)
def remove_member(name: ProjectPath, user: UserPath, caller: Caller, session: SessionDep) -> None:
    """Remove a person from the project (owner; the last owner stays)."""
    service.remove_member_for(session, caller, name, user)


@users_router.get("", response_model=list[UserRead], operation_id="users-list")
def list_users(caller: Caller, session: SessionDep) -> list[UserRead]:
    """Every user (admin)."""
    access.require_admin(caller)
    return [user_read(u) for u in service.users(session)]


@users_router.post(
    "", response_model=UserRead, status_code=status.HTTP_201_CREATED, operation_id="users-create"
)
def create_user(body: UserCreate, caller: Caller, session: SessionDep) -> UserRead:
    """Create a user (admin); without a password they sign in with a one-time link."""
    access.require_admin(caller)
    return user_read(
        service.create_user(session, body.name, password=body.password, is_admin=body.is_admin)
    )


@users_router.patch("/{name}", response_model=UserRead, operation_id="users-update")
def update_user(name: UserPath, body: UserUpdate, caller: Caller, session: SessionDep) -> UserRead:
    """Disable or enable a user, or make them an admin or not (admin)."""
    access.require_admin(caller)
    return user_read(
        service.update_user(session, name, disabled=body.disabled, is_admin=body.is_admin)
    )


@users_router.post(
    "/{name}/login-link", response_model=LoginLinkRead, operation_id="users-login-link"
)
def create_login_link(
    name: UserPath, caller: Caller, session: SessionDep, settings: SettingsDep
) -> LoginLinkRead:
    """A one-time sign-in link for a user (admin), to hand to the person."""
    access.require_admin(caller)
    token, expires = service.create_login_link(
        session, service.get_user(session, name), ttl_s=settings.login_link_ttl_s
    )
    return LoginLinkRead(url=login_url(settings, token), expires_at=expires)


def login_url(settings: Settings, token: str) -> str:
    """The dashboard URL that signs in with a one-time token.

    The token travels in the fragment, which browsers never send: it appears in no server or
    proxy log, and a link previewer that fetches the page without running it cannot spend it.
    """
    return f"{settings.resolved_public_url}{SIGN_IN_PAGE}#token={token}"
