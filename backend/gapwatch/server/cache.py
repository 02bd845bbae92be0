"""A per-process cache of products computed from a run's stored points (summaries, gap
tables), keyed by the run and a fingerprint of what is stored. Generic, so that every floor
may hold one without importing the analytics."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Entry:
    fingerprint: Hashable
    products: dict[Hashable, Any] = field(default_factory=dict)


class AnalysisCache:
    """Per-process LRU of computed summaries and gap tables, keyed by run and fingerprint.

    Computing a run's products is serialized per run: the run page asks for the summary and
    the gaps at once, and the second request must wait for the first's load (which computes
    both) instead of reading a million-point run from the store a second time.

    Several API processes (`gapwatch serve --workers N`) each hold one, and none can answer
    stale: every request reads the fingerprint from the database before it looks here, and
    what it depends on only grows (points and events are never removed or rewritten), so
    points another process ingested change the fingerprint and miss. The per-run locks need
    only be per process: two processes may compute the same product at once, which is work
    done twice, never a wrong answer.
    """

    def __init__(self, max_runs: int = 256) -> None:
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._run_locks: dict[int, threading.Lock] = {}
        self._max_runs = max_runs
        self.hits = 0
        self.misses = 0

    def _lookup(self, run_id: int, fingerprint: Hashable, product: Hashable) -> tuple[bool, Any]:
        with self._lock:
            entry = self._entries.get(run_id)
            if entry is not None and entry.fingerprint == fingerprint and product in entry.products:
                self._entries.move_to_end(run_id)
                self.hits += 1
                return True, entry.products[product]
        return False, None

    def put(self, run_id: int, fingerprint: Hashable, product: Hashable, value: Any) -> None:
        with self._lock:
            entry = self._entries.get(run_id)
            if entry is None or entry.fingerprint != fingerprint:
                entry = self._entries[run_id] = _Entry(fingerprint)
            entry.products[product] = value
            self._entries.move_to_end(run_id)
            while len(self._entries) > self._max_runs:
                evicted, _ = self._entries.popitem(last=False)
                self._run_locks.pop(evicted, None)

    def get(
        self, run_id: int, fingerprint: Hashable, product: Hashable, compute: Callable[[], Any]
    ) -> Any:
        found, value = self._lookup(run_id, fingerprint, product)
        if found:
            return value
        with self._lock:
            run_lock = self._run_locks.setdefault(run_id, threading.Lock())
        with run_lock:
            found, value = self._lookup(run_id, fingerprint, product)
            if found:
                return value
            with self._lock:
                self.misses += 1
            value = compute()
            self.put(run_id, fingerprint, product, value)
        return value
