"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106's second choice)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_CHARS = 8
# argon2 hashes any length in the same time, but a megabyte "password" is still a waste.
MAX_PASSWORD_CHARS = 1024


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    return _hasher().hash("gapwatch-no-such-user")


def hash_password(password: str) -> str:
    """An argon2id hash (salt and parameters included) of `password`."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; a missing hash (or user) costs the same time as a check."""
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    return _hasher().check_needs_rehash(password_hash)
