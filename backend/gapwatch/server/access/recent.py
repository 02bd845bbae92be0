"""Credentials recently found valid, remembered for a second so that a program's stream of
requests (a worker's writes, a script's reads) is not one database lookup each.

Only positive answers are kept, for at most `CREDENTIAL_TTL_S`; every change that can withdraw
a credential in this process (a key or session revoked, a user disabled, a password or admin
flag changed) forgets them all at once through `forget_all`. A change made by another process
(another API replica, the `gapwatch users|keys` commands) takes effect here within the TTL.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

# Long enough to serve a burst of requests, short enough that a revocation elsewhere is felt
# at once by a person (and a live stream rechecks the database every second anyway).
CREDENTIAL_TTL_S = 1.0
MAX_REMEMBERED = 10_000

_generation = 0
_generation_lock = threading.Lock()


def forget_all() -> None:
    """Forget every remembered credential of this process (call on any withdrawal)."""
    global _generation
    with _generation_lock:
        _generation += 1


class RecentCredentials:
    """A small TTL map from a credential's digest to what it proved."""

    def __init__(
        self,
        ttl_s: float = CREDENTIAL_TTL_S,
        max_entries: int = MAX_REMEMBERED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, int, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        """What `key` proved, if it was remembered less than the TTL ago and nothing was
        withdrawn since; else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            until, generation, value = entry
            if until <= self._clock() or generation != _generation:
                del self._entries[key]
                return None
            return value

    def put(self, key: Hashable, value: object, *, valid_for_s: float | None = None) -> None:
        """Remember `value` for the TTL, or for `valid_for_s` if that is shorter (a credential
        about to expire)."""
        ttl = self._ttl_s if valid_for_s is None else min(self._ttl_s, valid_for_s)
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + ttl, _generation, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
