"""Every query the access floor makes: credentials to callers, callers' roles."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, literal, select, union_all
from sqlalchemy.orm import Session

from gapwatch.server.models import ApiKey, Membership, Project, Run, User, WebSession
from gapwatch.server.models.base import UTCDateTime

# The lookups of every request are built once and run as Core statements on the session's
# connection: building and running them through the ORM each time cost about 1 ms more per
# request on the 2-core development machine (bench/auth.py).
_KEY_CALLER = (
    select(
        ApiKey.id,
        ApiKey.project_id,
        ApiKey.role,
        ApiKey.expires_at,
        User.id.label("user_id"),
        User.name,
        User.is_admin,
    )
    .join(User, User.id == ApiKey.user_id)
    .where(
        ApiKey.key_hash == bindparam("key_hash"),
        ApiKey.revoked_at.is_(None),
        User.disabled_at.is_(None),
    )
)
_SESSION_CALLER = (
    select(WebSession.id, WebSession.expires_at, User.id.label("user_id"), User.name, User.is_admin)
    .join(User, User.id == WebSession.user_id)
    .where(
        WebSession.token_hash == bindparam("token_hash"),
        WebSession.revoked_at.is_(None),
        WebSession.expires_at > bindparam("now", type_=UTCDateTime()),
        User.disabled_at.is_(None),
    )
)
_RUN_TOKEN_HASH = select(Run.token_hash).where(Run.id == bindparam("run_id"))


def key_caller(session: Session, key_hash: str) -> Row[Any] | None:
    """The live key with this hash and its enabled user, in one indexed lookup."""
    return session.connection().execute(_KEY_CALLER, {"key_hash": key_hash}).first()


def session_caller(session: Session, token_hash: str, now: datetime) -> Row[Any] | None:
    """The unexpired, unrevoked web session with this hash and its enabled user."""
    return (
        session.connection()
        .execute(_SESSION_CALLER, {"token_hash": token_hash, "now": now})
        .first()
    )


def run_with_member_role(
    session: Session, run_id: int, user_id: int
) -> tuple[Run, str | None] | None:
    """The run and the user's membership role in its project (None if not a member)."""
    row = session.execute(
        select(Run, Membership.role)
        .outerjoin(
            Membership,
            (Membership.project_id == Run.project_id) & (Membership.user_id == user_id),
        )
        .where(Run.id == run_id)
    ).first()
    return None if row is None else (row[0], row[1])


def project_with_member_role(
    session: Session, name: str, user_id: int
) -> tuple[Project, str | None] | None:
    row = session.execute(
        select(Project, Membership.role)
        .outerjoin(
            Membership,
            (Membership.project_id == Project.id) & (Membership.user_id == user_id),
        )
        .where(Project.name == name)
    ).first()
    return None if row is None else (row[0], row[1])


def member_project_roles(session: Session, user_id: int) -> dict[int, str]:
    """{project id: role} of the user's memberships."""
    rows = session.execute(
        select(Membership.project_id, Membership.role).where(Membership.user_id == user_id)
    )
    return {project_id: role for project_id, role in rows}


def all_project_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Project.id)))


def run_token_hash(session: Session, run_id: int) -> str | None:
    """The run's token hash; None before its first claim, or if there is no such run."""
    return session.connection().execute(_RUN_TOKEN_HASH, {"run_id": run_id}).scalar()


def alive_credentials(
    session: Session, *, key_ids: Collection[int], session_ids: Collection[int], now: datetime
) -> tuple[set[int], set[int]]:
    """Of these keys and web sessions, the ids of those still unrevoked and unexpired with
    their user enabled: (key ids, session ids), in one statement for any number of them."""
    keys = (
        select(literal("key").label("kind"), ApiKey.id)
        .join(User, User.id == ApiKey.user_id)
        .where(
            ApiKey.id.in_(list(key_ids)),
            ApiKey.revoked_at.is_(None),
            User.disabled_at.is_(None),
            (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now),
        )
    )
    sessions = (
        select(literal("session").label("kind"), WebSession.id)
        .join(User, User.id == WebSession.user_id)
        .where(
            WebSession.id.in_(list(session_ids)),
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
            User.disabled_at.is_(None),
        )
    )
    alive: dict[str, set[int]] = {"key": set(), "session": set()}
    for kind, row_id in session.execute(union_all(keys, sessions)):
        alive[kind].add(row_id)
    return alive["key"], alive["session"]


def member_roles(
    session: Session, user_ids: Collection[int], project_ids: Collection[int]
) -> dict[tuple[int, int], str]:
    """{(user id, project id): role} of these users' memberships in these projects."""
    rows = session.execute(
        select(Membership.user_id, Membership.project_id, Membership.role).where(
            Membership.user_id.in_(list(user_ids)), Membership.project_id.in_(list(project_ids))
        )
    )
    return {(user_id, project_id): role for user_id, project_id, role in rows}
