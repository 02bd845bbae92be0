"""Every query on users, projects, memberships, keys, sessions and sign-in links."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gapwatch.server.models import (
    ApiKey,
    LoginLink,
    Membership,
    Project,
    Role,
    Run,
    RunStatus,
    User,
    WebSession,
)


def user_by_name(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.id)).all()


def user_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def project_by_name(session: Session, name: str) -> Project | None:
    return session.scalar(select(Project).where(Project.name == name))


def all_projects(session: Session) -> Sequence[Project]:
    return session.scalars(select(Project).order_by(Project.name)).all()


def projects_by_id(session: Session, ids: Sequence[int]) -> dict[int, Project]:
    rows = session.scalars(select(Project).where(Project.id.in_(list(ids))))
    return {project.id: project for project in rows}


def membership(session: Session, project_id: int, user_id: int) -> Membership | None:
    return session.get(Membership, (project_id, user_id))


def members(session: Session, project_id: int) -> list[tuple[str, str]]:
    rows = session.execute(
        select(User.name, Membership.role)
        .join(User, User.id == Membership.user_id)
        .where(Membership.project_id == project_id)
        .order_by(User.name)
    )
    return [(name, role) for name, role in rows]


def owner_count(session: Session, project_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.project_id == project_id, Membership.role == Role.owner)
        )
        or 0
    )


def active_run_count(session: Session, project_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Run)
            .where(
                Run.project_id == project_id,
                Run.status.in_([RunStatus.queued, RunStatus.running]),
            )
        )
        or 0
    )


def keys_of(session: Session, user_id: int) -> Sequence[ApiKey]:
    return session.scalars(
        select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id)
    ).all()


def sessions_of(session: Session, user_id: int, now: datetime) -> Sequence[WebSession]:
    return session.scalars(
        select(WebSession)
        .where(
            WebSession.user_id == user_id,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
        )
        .order_by(WebSession.id)
    ).all()


def use_login_link(session: Session, token_hash: str, now: datetime) -> int | None:
    """Mark the unexpired, unused link with this hash used; its user id, or None.

    One conditional UPDATE: of two requests racing with the same link, exactly one wins.
    """
    return session.execute(
        update(LoginLink)
        .where(
            LoginLink.token_hash == token_hash,
            LoginLink.used_at.is_(None),
            LoginLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(LoginLink.user_id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()


def revoke_sessions_of(
    session: Session, user_id: int, now: datetime, *, keep: int | None = None
) -> None:
    """Revoke every live session of the user but `keep`."""
    query = update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(WebSession.id != keep)
    session.execute(query.values(revoked_at=now).execution_options(synchronize_session=False))


def spend_login_links_of(session: Session, user_id: int, now: datetime) -> None:
    """Mark the user's unused sign-in links used (a disabled user's links die with them)."""
    session.execute(
        update(LoginLink)
        .where(LoginLink.user_id == user_id, LoginLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
