"""One poller per API process serves every open live stream (GET /runs/{id}/live, and
GET /live?runs=1,2,3, one stream for several runs).

Each stream used to poll the database itself, a second apart, in a thread and a session of its
own: 150 open run pages were 150 query sets a second and slowed every other request. Now the
process's `LivePoller` reads the state of every watched run (status, progress, accuracy points
and boundary events stored) in ONE statement a second and hands each stream the new state of its
run (asyncio, no thread or connection per stream). Every `ACCESS_RECHECK_S` it checks, in two
statements for all streams together, that each watcher's credential still holds and that they
may still read the run's project; a stream whose run is gone or whose reader lost access ends.

A stream of several runs counts as one stream, sends the frames of each of its runs, and ends
once every one of them has ended (or is gone).

Streams are capped per user and per process (`max_streams_per_user`, `max_streams`): one more is
a 429 with Retry-After, which the dashboard answers by polling the run instead.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter, deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.orm import Session, sessionmaker

from gapwatch.server.access import service as access
from gapwatch.server.access.principal import Principal
from gapwatch.server.errors import TooManyRequests, database_unavailable, first_line
from gapwatch.server.live.schemas import LiveRunEvent
from gapwatch.server.models import RunStatus
from gapwatch.server.runs.schemas import RunRead
from gapwatch.server.summaries import service as summaries

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 1.0
# How stale a withdrawn access (key revoked, member removed, user disabled) may be before the
# streams it opened end. A deleted run ends its streams at the next poll.
ACCESS_RECHECK_S = 5.0
# A stream of a run that nobody watched yet is answered by an early poll; polls still come at
# most this often, however many such streams open at once.
MIN_POLL_GAP_S = 0.1
# What a refused stream is told to wait: run pages are closed at human speed.
STREAM_RETRY_AFTER_S = 10.0
# Comment lines of the stream (ignored by EventSource).
KEEP_ALIVE = b": keep-alive\n\n"
DATABASE_DOWN = b": the database is unavailable; retrying\n\n"


@dataclass(frozen=True)
class Snapshot:
    """A run's state as its streams send it: one encoded frame shared by all its streams."""

    run_id: int
    state: tuple[Any, ...]
    frame: bytes
    terminal: bool


def frame(event: LiveRunEvent) -> bytes:
    """An SSE `run` event."""
    return b"event: run\ndata: " + orjson.dumps(event.model_dump(mode="json")) + b"\n\n"


class Subscriber:
    """One open stream of one run or several: what it still has to send, and whether it must
    end."""

    def __init__(self, caller: Principal, run_ids: Sequence[int]) -> None:
        self.caller = caller
        self.run_ids = tuple(dict.fromkeys(run_ids))
        self._pending: deque[Snapshot | bytes] = deque()
        self._last_state: dict[int, tuple[Any, ...]] = {}
        # The runs whose frames this stream still sends: it ends once none is left.
        self._open = set(self.run_ids)
        self._wake = asyncio.Event()
        self.ended = False

    def deliver(self, snapshot: Snapshot) -> None:
        """Queue the run's state unless this stream sent it already; a state of that run that
        was not sent yet is replaced (a slow reader gets the latest, not a backlog). After a
        terminal state the run sends nothing more."""
        run_id = snapshot.run_id
        if self.ended or run_id not in self._open or snapshot.state == self._last_state.get(run_id):
            return
        self._last_state[run_id] = snapshot.state
        for index, item in enumerate(self._pending):
            if isinstance(item, Snapshot) and item.run_id == run_id:
                self._pending[index] = snapshot
                break
        else:
            self._pending.append(snapshot)
        self._wake.set()
        if snapshot.terminal:
            self.run_ended(run_id)

    def run_ended(self, run_id: int) -> None:
        """`run_id` sends nothing more (it ended, or is gone); the stream ends after its last."""
        self._open.discard(run_id)
        if not self._open:
            self.end()

    def notify(self, comment: bytes) -> None:
        """Queue a comment line (a notice for people reading the raw stream)."""
        self._pending.append(comment)
        self._wake.set()

    def end(self) -> None:
        """End the stream once what is queued is sent."""
        self.ended = True
        self._wake.set()

    async def next(self, timeout_s: float) -> Snapshot | bytes | None:
        """The next thing to send: a Snapshot, a comment line (KEEP_ALIVE after `timeout_s`
        with nothing else), or None once the stream must end."""
        while True:
            if self._pending:
                return self._pending.popleft()
            if self.ended:
                return None
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout_s)
            except TimeoutError:
                return KEEP_ALIVE


class LivePoller:
    """The live streams of one API process and the one poll that feeds them all.

    Runs in the process's event loop: `subscribe` and `unsubscribe` are called from it, the
    poll's database work runs in a thread. The poll runs while there are streams.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        max_streams: int,
        max_streams_per_user: int,
        interval_s: float = POLL_INTERVAL_S,
        access_recheck_s: float = ACCESS_RECHECK_S,
    ) -> None:
        self._session_factory = session_factory
        self.max_streams = max_streams
        self.max_streams_per_user = max_streams_per_user
        self.interval_s = interval_s
        self.access_recheck_s = access_recheck_s
        self._by_run: dict[int, set[Subscriber]] = {}
        self._per_user: Counter[int] = Counter()
        self._snapshots: dict[int, Snapshot] = {}
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_access_check = -math.inf
        self._database_down = False
        # Polls done (tests follow them instead of sleeping).
        self.polls = 0

    @property
    def streams(self) -> int:
        """Streams open now."""
        return sum(self._per_user.values())

    def subscribe(self, caller: Principal, *run_ids: int) -> Subscriber:
        """A new stream of `run_ids` for `caller` (who may read them: the endpoint checked).
        One stream, however many runs.

        Raises:
            TooManyRequests: The process or the caller's user holds the most streams allowed.
        """
        open_now = self.streams
        if open_now >= self.max_streams:
            raise TooManyRequests(
                f"this server holds the most live streams it may ({self.max_streams}, "
                f"GAPWATCH_MAX_STREAMS); try again in {STREAM_RETRY_AFTER_S:g} s",
                retry_after_s=STREAM_RETRY_AFTER_S,
            )
        mine = self._per_user[caller.user_id]
        if mine >= self.max_streams_per_user:
            raise TooManyRequests(
                f"you have {mine} live streams open, the most one user may "
                f"({self.max_streams_per_user}, GAPWATCH_MAX_STREAMS_PER_USER); close a run "
                f"page, or try again in {STREAM_RETRY_AFTER_S:g} s",
                retry_after_s=STREAM_RETRY_AFTER_S,
            )
        subscriber = Subscriber(caller, run_ids)
        self._per_user[caller.user_id] += 1
        for run_id in subscriber.run_ids:
            self._by_run.setdefault(run_id, set()).add(subscriber)
            snapshot = self._snapshots.get(run_id)
            if snapshot is not None:
                subscriber.deliver(snapshot)  # the state of the last poll, at once
            else:
                self._kick.set()  # a run not watched yet: poll early
        if self._database_down:
            subscriber.notify(DATABASE_DOWN)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="gapwatch-live-poller"
            )
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Free the stream's slot (idempotent)."""
        subscribed = False
        for run_id in subscriber.run_ids:
            watchers = self._by_run.get(run_id)
            if watchers is None or subscriber not in watchers:
                continue
            subscribed = True
            watchers.discard(subscriber)
            if not watchers:
                del self._by_run[run_id]
                self._snapshots.pop(run_id, None)
        if not subscribed:
            return
        self._per_user[subscriber.caller.user_id] -= 1
        if self._per_user[subscriber.caller.user_id] <= 0:
            del self._per_user[subscriber.caller.user_id]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = -math.inf
        while self._by_run:
            remaining = last + self.interval_s - loop.time()
            if remaining > 0 and not self._kick.is_set():
                try:
                    await asyncio.wait_for(self._kick.wait(), remaining)
                except TimeoutError:
                    pass
            gap = last + MIN_POLL_GAP_S - loop.time()
            if gap > 0:
                await asyncio.sleep(gap)
            self._kick.clear()
            if not self._by_run:
                break
            last = loop.time()
            await self._poll_once(loop.time())

    async def _poll_once(self, now: float) -> None:
        run_ids = list(self._by_run)
        known = {run_id: snapshot.state for run_id, snapshot in self._snapshots.items()}
        recheck = now - self._last_access_check >= self.access_recheck_s
        readers = (
            {(s.caller, run_id) for run_id, watchers in self._by_run.items() for s in watchers}
            if recheck
            else set()
        )
        try:
            states, denied = await asyncio.to_thread(self._read, run_ids, known, readers)
        except Exception as error:  # noqa: BLE001 - every stream is told, none is left hanging
            self.polls += 1
            self._failed(error)
            return
        self.polls += 1
        self._database_down = False
        if recheck:
            self._last_access_check = now
        for run_id in run_ids:
            watchers = self._by_run.get(run_id)
            if not watchers:
                continue  # every stream of it closed meanwhile
            if run_id not in states:  # deleted
                for subscriber in watchers:
                    subscriber.run_ended(run_id)
                continue
            snapshot = states[run_id] or self._snapshots.get(run_id)
            if snapshot is None:
                continue  # its streams closed and new ones opened meanwhile: polled again soon
            self._snapshots[run_id] = snapshot
            for subscriber in watchers:
                if (subscriber.caller, run_id) in denied:
                    subscriber.end()  # the whole stream: its reader lost access
                    continue
                subscriber.deliver(snapshot)

    def _failed(self, error: Exception) -> None:
        if database_unavailable(error):
            # The answers have started, so they cannot become 503s: each stream says so once
            # and waits (with its keep-alives); frames resume when the database is back.
            if not self._database_down:
                self._database_down = True
                log.warning("live streams: database unavailable: %s", first_line(error))
                for watchers in self._by_run.values():
                    for subscriber in watchers:
                        subscriber.notify(DATABASE_DOWN)
            return
        # A bug: end the streams (browsers reconnect after the stream's `retry:`), with a trace.
        log.error("live streams: poll failed", exc_info=error)
        for watchers in self._by_run.values():
            for subscriber in watchers:
                subscriber.end()

    def _read(
        self,
        run_ids: list[int],
        known: dict[int, tuple[Any, ...]],
        readers: Collection[tuple[Principal, int]],
    ) -> tuple[dict[int, Snapshot | None], set[tuple[Principal, int]]]:
        """In a thread: {run id: its Snapshot, or None if its state is `known`} of the runs
        that still exist, and the (caller, run id) of `readers` who may no longer read."""
        with self._session_factory() as session:
            rows = summaries.runs_with_stored_counts(session, run_ids)
            states: dict[int, Snapshot | None] = {}
            for run_id, (run, points, events) in rows.items():
                state = (run.status, run.progress_step, points, events)
                if known.get(run_id) == state:
                    states[run_id] = None
                    continue
                event = LiveRunEvent(run=RunRead.from_row(run), points=points, events=events)
                states[run_id] = Snapshot(
                    run_id, state, frame(event), RunStatus(run.status).is_terminal
                )
            readers = [(caller, run_id) for caller, run_id in readers if run_id in rows]
            projects = {run_id: rows[run_id][0].project_id for _, run_id in readers}
            allowed = access.still_readable(
                session, {(caller, projects[run_id]) for caller, run_id in readers}
            )
        denied = {(c, r) for c, r in readers if (c, projects[r]) not in allowed}
        return states, denied
