"""Who is calling: a person through a dashboard session, or a program through an API key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from gapwatch.server.models import Role


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. An API key acts as its user, narrowed to one project and to
    at most one role when it was created so; an admin acts as owner of every project."""

    user_id: int
    user_name: str
    is_admin: bool
    via: Literal["session", "key"]
    session_id: int | None = None
    csrf_token: str | None = None
    key_id: int | None = None
    key_project_id: int | None = None
    key_role: Role | None = None
    # When the credential itself stops working (None: never), so that no one remembers it
    # longer.
    expires_at: datetime | None = None

    @property
    def sees_every_project(self) -> bool:
        return self.is_admin and self.key_project_id is None

    def role_in(self, project_id: int, member_role: str | None) -> Role | None:
        """The caller's role in `project_id`, given the user's membership role there."""
        if self.key_project_id is not None and project_id != self.key_project_id:
            return None
        role = Role.owner if self.is_admin else (Role(member_role) if member_role else None)
        if role is None:
            return None
        if self.key_role is not None and not self.key_role.includes(role):
            return self.key_role
        return role

    def may_manage_credentials(self) -> bool:
        """Keys are made and revoked by a person, or by an unrestricted key of theirs: a key
        narrowed to a project must not mint itself a wider one."""
        return self.via == "session" or (self.key_project_id is None and self.key_role is None)
