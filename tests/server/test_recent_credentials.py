"""Credentials remembered for a second: never longer than the TTL, than the credential itself,
or than the next withdrawal in this process."""

from __future__ import annotations

from gapwatch.server.access.recent import RecentCredentials, forget_all


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_remembered_for_the_ttl_only() -> None:
    clock = Clock()
    recent = RecentCredentials(ttl_s=1.0, clock=clock)
    recent.put("k", "alice")
    clock.now += 0.99
    assert recent.get("k") == "alice"
    clock.now += 0.02
    assert recent.get("k") is None


def test_never_longer_than_the_credential_lives() -> None:
    clock = Clock()
    recent = RecentCredentials(ttl_s=1.0, clock=clock)
    recent.put("expiring", "bob", valid_for_s=0.25)
    recent.put("expired", "carol", valid_for_s=-3.0)
    clock.now += 0.3
    assert recent.get("expiring") is None
    assert recent.get("expired") is None


def test_a_withdrawal_forgets_everything_at_once() -> None:
    recent = RecentCredentials(ttl_s=60.0)
    recent.put("k", "alice")
    forget_all()
    assert recent.get("k") is None
    recent.put("k", "alice")
    assert recent.get("k") == "alice"


def test_bounded_oldest_first() -> None:
    recent = RecentCredentials(ttl_s=60.0, max_entries=3)
    for name in "abcd":
        recent.put(name, name)
    assert [recent.get(n) for n in "abcd"] == [None, "b", "c", "d"]
