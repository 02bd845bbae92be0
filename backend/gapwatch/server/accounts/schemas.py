"""Request and response models of accounts: sign-in, sessions, API keys, projects, users."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gapwatch.components import PROJECT_NAME_PATTERN, check_text
from gapwatch.server.access.passwords import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS

USER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$"
RoleName = Literal["viewer", "editor", "owner"]
KeyRoleName = Literal["viewer", "editor"]
UserName = Field(pattern=USER_NAME_PATTERN, description="Letters, digits and _.@+- (64 at most).")
ProjectName = Field(pattern=PROJECT_NAME_PATTERN, description="a-z, 0-9, _ and - (64 at most).")
Password = Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)


def _no_control_text(value: object) -> object:
    """NUL and lone surrogates have no place in a name, a password or a token, and the
    database or the hash would choke on them: refuse them as what they are, bad input."""
    return check_text(value) if isinstance(value, str) else value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _clean_text(cls, value: object) -> object:
        return _no_control_text(value)


class SignInRequest(_Body):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


class LinkSignInRequest(_Body):
    token: str = Field(min_length=1, max_length=128, description="The one-time link's token.")


class PasswordChange(_Body):
    current_password: str | None = Field(
        None, max_length=MAX_PASSWORD_CHARS, description="Required once a password is set."
    )
    new_password: str = Password


class UserRead(BaseModel):
    name: str
    is_admin: bool
    has_password: bool
    disabled: bool
    created_at: datetime


class ProjectRole(BaseModel):
    name: str
    role: RoleName


class KeyRead(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    project: str | None = Field(description="The only project it may act in; null: any.")
    role: KeyRoleName | None = Field(description="The most it may do; null: its user's role.")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class Me(BaseModel):
    """Who is calling, and what they may do where."""

    user: UserRead
    via: Literal["session", "key"]
    csrf_token: str | None = Field(
        description="Send it as X-CSRF-Token on every mutating request made with the session "
        "cookie; null for API keys."
    )
    projects: list[ProjectRole]
    key: KeyRead | None = Field(description="The API key in use, if any.")


class SignedIn(BaseModel):
    user: UserRead
    csrf_token: str
    expires_at: datetime


class SessionRead(BaseModel):
    id: int
    created_at: datetime
    expires_at: datetime
    current: bool
    user_agent: str | None
    address: str | None


class KeyCreate(_Body):
    name: str = Field(min_length=1, max_length=100)
    project: str | None = Field(None, pattern=PROJECT_NAME_PATTERN)
    role: KeyRoleName | None = None
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class KeyCreated(BaseModel):
    key: KeyRead
    secret: str = Field(description="The key itself: shown this once, stored only as a hash.")


class ProjectCreate(_Body):
    name: str = ProjectName


class ProjectRead(BaseModel):
    name: str
    role: RoleName = Field(description="Your role in it.")
    created_at: datetime


class MemberRead(BaseModel):
    user: str
    role: RoleName


class MemberSet(_Body):
    role: RoleName


class UserCreate(_Body):
    name: str = UserName
    password: str | None = Field(
        None,
        min_length=MIN_PASSWORD_CHARS,
        max_length=MAX_PASSWORD_CHARS,
        description="Omit to let the person sign in with a one-time link and set one.",
    )
    is_admin: bool = False


class UserUpdate(_Body):
    disabled: bool | None = None
    is_admin: bool | None = None


class LoginLinkRead(BaseModel):
    url: str = Field(description="Valid once, until expires_at.")
    expires_at: datetime
