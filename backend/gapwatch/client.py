"""Python client of the Gapwatch REST API, for the worker and for users' own training loops.

    client = GapwatchClient("http://127.0.0.1:8000")
    run = client.create_run(spec)                      # submit for a worker
    claim = client.claim_run(run_id, worker="me", worker_token=...)   # or log from your loop
    with client.run_logger(claim) as log:
        log.report_scalars(step, {"eval/acc/task_0": 0.93})

`RunLogger` buffers points and sends them in batches from a background thread, so a training
loop never waits on HTTP; a batch that fails transiently is retried, and since ingestion is
idempotent, a batch sent twice stores each point once. Batches travel in the API's binary
layout (`encode_columnar`), which the server reads without parsing a number at a time.
"""

from __future__ import annotations

import array
import logging
import math
import os
import random
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx

from gapwatch import plugins
from gapwatch import spec as spec_module
from gapwatch.spec import RunSpec

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
COLUMNAR_MEDIA_TYPE = "application/x-gapwatch-columnar"
COLUMNAR_MAGIC = b"GWC1"


def _little_endian(column: Sequence[Any], typecode: str) -> bytes:
    """A column as packed little-endian numbers: straight from a buffer of that type (numpy
    arrays, array.array), else through array.array, which converts in C and refuses what is
    not a number of that kind (TypeError) or does not fit (OverflowError)."""
    try:
        view = memoryview(column)  # type: ignore[arg-type]
    except TypeError:
        packed = array.array(typecode, column)
    else:
        formats = ("q", "l") if typecode == "q" else ("d",)
        if view.ndim == 1 and view.itemsize == 8 and view.format in formats:
            if sys.byteorder == "little":
                return view.tobytes()
            packed = array.array(typecode, view.tobytes())
        else:
            packed = array.array(typecode, view.tolist())
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def encode_columnar(series: Sequence[Mapping[str, Any]]) -> bytes:
    """A metric batch ({"key", "steps", "values"} per series) in the API's binary layout
    (COLUMNAR_MEDIA_TYPE): a few copies of packed arrays instead of a JSON text per number.

    Raises:
        TypeError, OverflowError: A step is not an int64 or a value not a float.
        ValueError: A key is too long, or steps and values differ in length.
    """
    head = [COLUMNAR_MAGIC, struct.pack("<I", len(series))]
    steps, values = [], []
    for item in series:
        key = item["key"].encode()
        if len(key) > 0xFFFF:
            raise ValueError(f"key {item['key'][:40]!r}... is too long")
        step_bytes = _little_endian(item["steps"], "q")
        value_bytes = _little_endian(item["values"], "d")
        if len(step_bytes) != len(value_bytes):
            raise ValueError(f"steps and values of {item['key']!r} differ in length")
        head += [struct.pack("<IH", len(step_bytes) // 8, len(key)), key]
        steps.append(step_bytes)
        values.append(value_bytes)
    header = b"".join(head)
    return b"".join([header, bytes(-len(header) % 8), *steps, *values])


# A run's error text as the finish endpoint accepts it (FinishRequest.error).
MAX_ERROR_CHARS = 20_000


def describe_error(error: BaseException, limit: int = MAX_ERROR_CHARS) -> str:
    """A run's error text: the error line first (what the dashboard shows), then the end of the
    traceback, at most `limit` characters."""
    trace = "".join(traceback.format_exception(error))
    head = f"{type(error).__name__}: {error}"
    return (head + "\n\n" + trace[-(limit - len(head) - 2) :])[:limit]


class GapwatchAPIError(Exception):
    """The API answered with an error status; `detail` is its explanation, `retry_after_s` the
    wait a 429 or 503 asked for (its Retry-After header), if any."""

    def __init__(self, status_code: int, detail: Any, retry_after_s: float | None = None) -> None:
        super().__init__(f"HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail
        self.retry_after_s = retry_after_s


class RunNotFound(GapwatchAPIError):
    """404: no such run."""


class RunConflict(GapwatchAPIError):
    """409: the run is not in a state that allows this (finished, cancelled, claimed)."""


class NotAuthenticated(GapwatchAPIError):
    """401: no credentials, or a key that is invalid, expired or revoked (set GAPWATCH_API_KEY
    or pass api_key=)."""


class NotAllowed(GapwatchAPIError):
    """403: authenticated, but the role is missing (the detail names it)."""


def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    error = {
        401: NotAuthenticated,
        403: NotAllowed,
        404: RunNotFound,
        409: RunConflict,
    }.get(response.status_code, GapwatchAPIError)
    raise error(response.status_code, detail, _retry_after_s(response))


def _retry_after_s(response: httpx.Response) -> float | None:
    """Retry-After in seconds (the server sends seconds, never an HTTP date)."""
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


def is_transient(error: BaseException) -> bool:
    """Whether trying the same request again later may succeed: the server could not be
    reached or answered 429 or 5xx. Any other 4xx is final."""
    if isinstance(error, httpx.TransportError):
        return True
    return isinstance(error, GapwatchAPIError) and (
        error.status_code == 429 or error.status_code >= 500
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures (`is_transient`) are retried.

    Delays double from `initial_delay_s` up to `max_delay_s` (or what Retry-After asks). Retries
    stop after `max_retries` (None: no count) or once `give_up_after_s` have passed since the
    first failure (None: no deadline). `jitter` in [0, 1] draws each delay from
    [delay * (1 - jitter), delay], so that clients cut off by one outage do not all come back
    in the same instant.
    """

    max_retries: int | None = 5
    give_up_after_s: float | None = None
    initial_delay_s: float = 0.25
    max_delay_s: float = 8.0
    jitter: float = 0.0

    def delay_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        """The wait before retry number `attempt` (0-based)."""
        delay = min(self.initial_delay_s * 2 ** min(attempt, 60), self.max_delay_s)
        delay *= 1.0 - self.jitter * random.random()
        return max(delay, retry_after_s or 0.0)

    def gives_up(self, attempt: int, failing_for_s: float) -> bool:
        """Whether retry number `attempt`, after failing for `failing_for_s`, is one too many."""
        over_count = self.max_retries is not None and attempt >= self.max_retries
        over_time = self.give_up_after_s is not None and failing_for_s > self.give_up_after_s
        return over_count or over_time


# What the engine's worker has always done: a few quick retries, then the run fails.
WORKER_RETRIES = RetryPolicy()

T = TypeVar("T")


def call_with_retries(call: Callable[[], T], policy: RetryPolicy = WORKER_RETRIES) -> T:
    """`call()`, retried under `policy` while it fails transiently; other errors at once."""
    attempt, first_failure = 0, None
    while True:
        try:
            return call()
        except (httpx.TransportError, GapwatchAPIError) as error:
            now = time.monotonic()
            first_failure = now if first_failure is None else first_failure
            if not is_transient(error) or policy.gives_up(attempt, now - first_failure):
                raise
            delay = policy.delay_s(attempt, getattr(error, "retry_after_s", None))
            # One line when an outage starts and then one now and then, not one per retry.
            level = logging.WARNING if attempt == 0 or attempt % 10 == 9 else logging.DEBUG
            log.log(level, "retrying in %.1f s after %s (attempt %d)", delay, error, attempt + 1)
            time.sleep(delay)
            attempt += 1


@dataclass(frozen=True)
class ClaimedRun:
    """A run handed to its executor, with the token that lets it write into that run only."""

    run_id: int
    spec: RunSpec | None
    token: str
    attempts: int
    # Why this process cannot read the spec (it names a strategy, model or benchmark that is
    # not installed here); the executor then fails the run with this message. None: readable.
    spec_error: str | None = None


@dataclass(frozen=True)
class OpenedRun:
    """A run opened by a user's own training loop (`init_run`, `resume_run`): its id, the token
    that lets this process write into it, and the run as the API shows it."""

    run_id: int
    token: str
    run: dict[str, Any]
    # False when the init's client_key named a run opened before (it was resumed instead).
    created: bool = True


def read_spec(raw: dict[str, Any]) -> tuple[RunSpec | None, str | None]:
    """A stored run spec as this process reads it: (spec, None), or (None, why not) when it
    names a component this process does not have (a plugin installed on the API's machine
    only, or one that failed to load here), said so that the run's error tells the user what to
    install where. Any error of a plugin's validators is an unreadable spec too, never a crash
    of the worker that claimed the run."""
    try:
        return RunSpec.model_validate(raw), None
    except Exception as error:  # noqa: BLE001 - a plugin's validator may raise anything
        host = socket.gethostname()
        failed = {(p.kind, p.name): p.error for p in plugins.problems()}
        missing = []
        for part, kind, components in (
            ("strategy", "strategies", spec_module.STRATEGY_COMPONENTS),
            ("model", "models", spec_module.MODEL_COMPONENTS),
            ("benchmark", "benchmarks", spec_module.BENCHMARK_COMPONENTS),
        ):
            section = raw.get(part)
            name = section.get("name") if isinstance(section, dict) else None
            if name is not None and name not in {c.name for c in components}:
                why = failed.get((kind, name))
                missing.append(f"{part} {name!r}" + (f" (it failed to load: {why})" if why else ""))
        if missing:
            return None, (
                f"this worker ({host}) does not have the {' and the '.join(missing)}: install "
                "the package that provides it where the worker runs (pip install ...; see "
                "`gapwatch plugins`), or send the run to a queue whose workers have it"
            )
        return None, f"this worker ({host}) cannot read the run's spec: {error}"


API_KEY_ENV = "GAPWATCH_API_KEY"
# Dataset uploads and downloads: bytes per write, and the longest wait for the server's answer.
DOWNLOAD_CHUNK_BYTES = 2**20
DATASET_READ_TIMEOUT_S = 600.0
# The statuses a run does not leave by itself.
ENDED_STATUSES = frozenset({"succeeded", "failed", "cancelled", "crashed"})


class GapwatchClient:
    """Synchronous client of one Gapwatch server.

    Requests carry `api_key` (default: the GAPWATCH_API_KEY environment variable) as
    `Authorization: Bearer`; the worker's calls carry the worker secret or a run token instead.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self._http = httpx.Client(
            base_url=self.base_url + API_PREFIX,
            timeout=timeout_s,
            transport=transport,
            headers=headers,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GapwatchClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self._http.request(method, path, headers=headers, **kwargs)
        _raise_for_status(response)
        return response.json()

    def me(self) -> dict[str, Any]:
        """Who the API key belongs to and their projects (`GET /auth/me`); NotAuthenticated if
        the key is invalid, expired or revoked."""
        return self._request("GET", "/auth/me")

    # --- runs -----------------------------------------------------------------------------

    def create_run(self, spec: RunSpec | Mapping[str, Any]) -> dict[str, Any]:
        """Submit a run; returns the run as the API shows it (status `queued`)."""
        body = spec.model_dump(mode="json") if isinstance(spec, RunSpec) else dict(spec)
        return self._request("POST", "/runs", json=body)

    def get_run(self, run_id: int) -> dict[str, Any]:
        return self._request("GET", f"/runs/{run_id}")

    def list_runs(self, **filters: Any) -> dict[str, Any]:
        return self._request("GET", "/runs", params=filters)

    def cancel_run(self, run_id: int) -> dict[str, Any]:
        return self._request("POST", f"/runs/{run_id}/cancel")

    def init_run(
        self,
        *,
        project: str | None = None,
        name: str | None = None,
        group: str | None = None,
        tags: Sequence[str] = (),
        config: Mapping[str, Any] | None = None,
        host: str | None = None,
        client_key: str | None = None,
    ) -> OpenedRun:
        """Open a run for a user's own training loop (editor): it is `running` at once, and the
        returned token writes its points, events, heartbeats and finish.

        `client_key` (8-100 of [A-Za-z0-9_.:-]) makes the call idempotent: repeated, in the same
        project, it resumes the run it opened before (`created` False) instead of opening a
        second one, so a retry after a lost answer cannot duplicate the run.
        """
        body = {
            "project": project,
            "name": name,
            "group": group,
            "tags": list(tags),
            "config": dict(config or {}),
            "host": host,
            "client_key": client_key,
        }
        response = self._http.post("/runs/init", json=body)
        _raise_for_status(response)
        answer = response.json()
        return OpenedRun(
            run_id=answer["run"]["id"],
            token=answer["token"],
            run=answer["run"],
            created=response.status_code == 201,
        )

    def resume_run(self, run_id: int, *, host: str | None = None) -> OpenedRun:
        """Continue a run of one's own loop (crashed, failed or still running elsewhere) with a
        fresh token; the previous token stops working."""
        answer = self._request("POST", f"/runs/{run_id}/resume", json={"host": host})
        return OpenedRun(run_id=answer["run"]["id"], token=answer["token"], run=answer["run"])

    def wait_for_run(
        self,
        run_id: int,
        *,
        timeout_s: float | None = 600.0,
        stall_s: float | None = None,
        poll_s: float = 0.5,
        on_poll: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the run is succeeded, failed, cancelled or crashed; `on_poll` sees the
        run as each poll finds it (a progress bar).

        Raises:
            TimeoutError: `timeout_s` passed (None: no overall bound), or the run's status and
                progress step stayed the same for `stall_s` (None: no stall bound). A stall
                bound follows the run instead of guessing its length: a slow machine's run
                that keeps stepping is waited for, a stuck one is reported early.
        """
        started = last_change = time.monotonic()
        last: tuple[Any, Any] | None = None
        while True:
            run = self.get_run(run_id)
            if on_poll is not None:
                on_poll(run)
            if run["status"] in ENDED_STATUSES:
                return run
            now = time.monotonic()
            state = (run["status"], run["progress"]["step"])
            if state != last:
                last, last_change = state, now
            if timeout_s is not None and now - started > timeout_s:
                raise TimeoutError(f"run {run_id} still {run['status']} after {timeout_s} s")
            if stall_s is not None and now - last_change > stall_s:
                raise TimeoutError(
                    f"run {run_id} made no progress for {stall_s} s "
                    f"({run['status']} at step {run['progress']['step']})"
                )
            time.sleep(poll_s)

    # --- sweeps ---------------------------------------------------------------------------

    def create_sweep(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a sweep (`{"base": <run spec>, "axes": {path: [values]}, "method",
        "budget", "seed", "name", "project"}`): its runs are queued at once. Returns the sweep
        as the API shows it, with `run_ids` and `progress`."""
        return self._request("POST", "/sweeps", json=dict(body))

    def get_sweep(self, sweep_id: int) -> dict[str, Any]:
        return self._request("GET", f"/sweeps/{sweep_id}")

    def definitions(self) -> list[dict[str, Any]]:
        """Every derived metric: id, label, definition, formula, direction, unit, headline."""
        return self._request("GET", "/definitions")

    def sweep_results(self, sweep_id: int, *, sort: str | None = None) -> dict[str, Any]:
        """One row per configuration: each headline metric's mean, 95% CI half width and n
        over the configuration's succeeded runs."""
        params = {"sort": sort} if sort else None
        return self._request("GET", f"/sweeps/{sweep_id}/results", params=params)

    # --- datasets -------------------------------------------------------------------------

    def upload_dataset(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        project: str | None = None,
    ) -> dict[str, Any]:
        """Upload a dataset into a project (editor): an .npz holding x_train, y_train, x_test
        and y_test, or a .pt holding a dict of them (tensors or arrays). The file streams from
        disk. Returns the dataset as the API shows it: id, digest, shapes, classes.

        `name` (default: from the file name) is unique in the project; `project` defaults to
        the API key's project, else 'default'.
        """
        path = Path(path)
        fields = {key: value for key, value in (("name", name), ("project", project)) if value}
        with path.open("rb") as file:
            return self._request(
                "POST",
                "/datasets",
                data=fields,
                files={"file": (path.name, file, "application/octet-stream")},
                timeout=self._dataset_timeout(),
            )

    def list_datasets(self, project: str | None = None) -> list[dict[str, Any]]:
        """The datasets of the caller's projects (or of `project`), newest first."""
        params = {"project": project} if project else None
        return self._request("GET", "/datasets", params=params)["datasets"]

    def get_dataset(self, dataset_id: int) -> dict[str, Any]:
        return self._request("GET", f"/datasets/{dataset_id}")

    def download_dataset(
        self,
        dataset_id: int,
        dest: str | os.PathLike[str],
        *,
        token: str | None = None,
        run_id: int | None = None,
    ) -> Path:
        """Save a dataset's canonical .npz at `dest` (written beside it, then renamed, so that
        `dest` never holds half a file). A worker passes its run's `token` and `run_id`: the
        token reads the dataset its running run names. Returns `dest`."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.{os.getpid()}-{threading.get_ident()}.part")
        headers = {"Authorization": f"Bearer {token}"} if token else None
        params = {"run": run_id} if run_id is not None else None
        try:
            with self._http.stream(
                "GET",
                f"/datasets/{dataset_id}/file",
                params=params,
                headers=headers,
                timeout=self._dataset_timeout(),
            ) as response:
                if not response.is_success:
                    response.read()
                    _raise_for_status(response)
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK_BYTES):
                        out.write(chunk)
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)
        return dest

    def _dataset_timeout(self) -> httpx.Timeout:
        """The client's timeouts, but a longer wait for the answer: the server reads, checks
        and digests up to a GiB of arrays before it answers an upload."""
        timeout = self._http.timeout
        return httpx.Timeout(
            connect=timeout.connect,
            read=max(timeout.read or 0.0, DATASET_READ_TIMEOUT_S),
            write=timeout.write,
            pool=timeout.pool,
        )

    # --- results --------------------------------------------------------------------------

    def get_metrics(
        self,
        run_id: int,
        keys: list[str] | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        points: int | None = None,
    ) -> dict[str, tuple[list[int], list[float]]]:
        """Series as {key: (steps, values)}: at most `points` per key (M4-downsampled on the
        server, every dip kept), or every point when `points` is None, following the pages."""
        params: dict[str, Any] = {"start": start, "end": end, "points": points}
        if keys is not None:
            params["keys"] = ",".join(keys)
        params = {k: v for k, v in params.items() if v is not None}
        answer = self._request("GET", f"/runs/{run_id}/metrics", params=params)
        series = {s["key"]: (s["steps"], s["values"]) for s in answer["series"]}
        pending = dict(answer.get("next_start", {}))
        while pending:
            key, next_start = pending.popitem()
            page = self._request(
                "GET",
                f"/runs/{run_id}/metrics",
                params={**params, "keys": key, "start": next_start},
            )
            steps, values = page["series"][0]["steps"], page["series"][0]["values"]
            series[key][0].extend(steps)
            series[key][1].extend(values)
            if key in page.get("next_start", {}):
                pending[key] = page["next_start"][key]
        return series

    def get_summary(self, run_id: int, windows: list[int] | None = None) -> dict[str, Any]:
        """ACC, BWT, FWT, forgetting, min-ACC, WC-ACC, WF^w and WP^w of a run, each named."""
        params = {"windows": ",".join(map(str, windows))} if windows else None
        return self._request("GET", f"/runs/{run_id}/summary", params=params)

    def get_gaps(self, run_id: int) -> dict[str, Any]:
        """The stability gap of every earlier task at every task boundary."""
        return self._request("GET", f"/runs/{run_id}/gaps")

    def compare(
        self,
        runs: list[int] | None = None,
        *,
        group: str | None = None,
        keys: list[str] | None = None,
        points: int | None = None,
    ) -> dict[str, Any]:
        """Runs (by id, or every run of a group) side by side, with series aligned by step."""
        params: dict[str, Any] = {"group": group, "points": points}
        if runs is not None:
            params["runs"] = ",".join(map(str, runs))
        if keys is not None:
            params["keys"] = ",".join(keys)
        return self._request(
            "GET", "/compare", params={k: v for k, v in params.items() if v is not None}
        )

    def export_metrics(self, run_id: int, format: str = "csv") -> Iterator[bytes]:
        """Every point of a run, streamed: CSV `key,step,value` rows or one JSON document."""
        with self._http.stream(
            "GET", f"/runs/{run_id}/export", params={"format": format}
        ) as response:
            if not response.is_success:
                response.read()
                _raise_for_status(response)
            yield from response.iter_bytes()

    def get_events(self, run_id: int, kind: str | None = None) -> list[dict[str, Any]]:
        params = {"kind": kind} if kind else None
        return self._request("GET", f"/runs/{run_id}/events", params=params)["events"]

    # --- executing a run ------------------------------------------------------------------

    def claim_run(self, run_id: int, *, worker: str, worker_token: str) -> ClaimedRun:
        """Take a run for execution; RunConflict if it is finished or alive elsewhere."""
        answer = self._request(
            "POST", f"/runs/{run_id}/claim", token=worker_token, json={"worker": worker}
        )
        run = answer["run"]
        spec, spec_error = read_spec(run["spec"])
        return ClaimedRun(
            run_id=run["id"],
            spec=spec,
            token=answer["token"],
            attempts=run["attempts"],
            spec_error=spec_error,
        )

    def post_metrics(self, run_id: int, token: str, series: list[dict[str, Any]]) -> int:
        """Send one batch of columnar series; returns how many points were new.

        The batch goes in the binary layout, which the server reads without parsing a number
        at a time; a batch that cannot be packed (a step written 2.0, a value as a string) goes
        as JSON, for the server to accept as the JSON contract does or to answer 422.
        """
        path = f"/runs/{run_id}/metrics"
        try:
            body = encode_columnar(series)
        except (TypeError, OverflowError, ValueError):
            answer = self._request("POST", path, token=token, json={"series": series})
        else:
            headers = {"Content-Type": COLUMNAR_MEDIA_TYPE}
            answer = self._request("POST", path, token=token, headers=headers, content=body)
        return int(answer["stored"])

    def post_events(self, run_id: int, token: str, events: list[dict[str, Any]]) -> int:
        answer = self._request(
            "POST", f"/runs/{run_id}/events", token=token, json={"events": events}
        )
        return int(answer["stored"])

    def heartbeat(
        self,
        run_id: int,
        token: str,
        *,
        step: int,
        total_steps: int | None,
        iterations_per_s: float | None = None,
    ) -> str:
        """Report progress; returns the run's status (`cancelled` means stop)."""
        answer = self._request(
            "POST",
            f"/runs/{run_id}/heartbeat",
            token=token,
            json={"step": step, "total_steps": total_steps, "iterations_per_s": iterations_per_s},
        )
        return str(answer["status"])

    def finish_run(
        self, run_id: int, token: str, *, error: str | None = None, status: str | None = None
    ) -> dict[str, Any]:
        """Mark the run succeeded, or failed with `error` (`status="failed"` without one)."""
        status = status or ("failed" if error else "succeeded")
        body = {"status": status, "error": error} if error else {"status": status}
        return self._request("POST", f"/runs/{run_id}/finish", token=token, json=body)

    def run_logger(self, claim: ClaimedRun, **options: Any) -> RunLogger:
        """A buffered, background logger writing into the claimed run."""
        return RunLogger(self, claim.run_id, claim.token, **options)


# A key's buffered points: its steps and values, in the order they were reported.
Series = dict[str, tuple[list[int], list[float]]]
# step, total steps (None: unknown), iterations per second (None: not measured)
Progress = tuple[int, int | None, float | None]
MAX_EVENTS_PER_BATCH = 10_000
MAX_SERIES_PER_BATCH = 1_000


class Spill(Protocol):
    """Where a RunLogger moves what it cannot keep in memory while the server is out of reach
    (`gapwatch.sdk.spill.DiskSpill` keeps it in files). Chunks come back oldest first."""

    def __len__(self) -> int: ...

    def put(self, series: Series, events: list[dict[str, Any]]) -> None: ...

    def peek(self) -> tuple[Series, list[dict[str, Any]]] | None: ...

    def pop(self) -> None: ...


def first_of_each_step(steps: list[int], values: list[float]) -> tuple[list[int], list[float]]:
    """A key's points with each step once, keeping its first value: a batch may hold a step
    only once, and a step already stored keeps its stored value on the server anyway."""
    if len(set(steps)) == len(steps):
        return steps, values
    seen: set[int] = set()
    kept_steps, kept_values = [], []
    for step, value in zip(steps, values, strict=True):
        if step not in seen:
            seen.add(step)
            kept_steps.append(step)
            kept_values.append(value)
    return kept_steps, kept_values


def series_batches(series: Series, max_points: int) -> Iterator[list[dict[str, Any]]]:
    """`series` as batches the API takes: at most `max_points` points and MAX_SERIES_PER_BATCH
    keys each, each key at most once per batch (a key longer than the room left is split) and
    each step once per key (`first_of_each_step`)."""
    batch: list[dict[str, Any]] = []
    size = 0
    for key, points in series.items():
        steps, values = first_of_each_step(*points)
        offset = 0
        while offset < len(steps):
            end = offset + (max_points - size)
            batch.append({"key": key, "steps": steps[offset:end], "values": values[offset:end]})
            size += len(steps[offset:end])
            offset = end
            if size >= max_points or len(batch) == MAX_SERIES_PER_BATCH:
                yield batch
                batch, size = [], 0
    if batch:
        yield batch


class RunLogger:
    """Buffers a run's points and events and sends them in batches from a background thread.

    The training loop only appends to in-memory buffers under a lock. The sender wakes when
    `max_points` points are waiting or `flush_interval_s` has passed, and posts one columnar
    batch. Progress heartbeats go at most every `heartbeat_interval_s`; their answer tells
    whether the run was cancelled (`stop_requested`).

    It has the methods of the engine's `Reporter` protocol, so the engine reports through it
    directly. The defaults are what the engine's worker wants (a few quick retries, then the
    run fails and is claimed again). A user's own loop (`gapwatch.init`) also sets:

    - `retry`: how long to ride out an outage (e.g. `RetryPolicy(max_retries=None,
      give_up_after_s=1800, jitter=0.5)`) instead of giving up after ~8 s;
    - `keepalive`: beat every `heartbeat_interval_s` even without new progress, so that the
      server does not take a loop that logs nothing for a while for a dead one;
    - `spill` and `max_buffered_points`: once that many points and events wait in memory, the
      training thread moves them to the spill (disk), and the sender delivers spilled chunks
      first, oldest first: memory stays bounded through an outage of any length;
    - `renew_token`: called when a write is refused with 409 (the run is no longer running);
      returns a fresh token to go on with (the SDK resumes a run that the server took for
      crashed while it could not hear it) or None to give up (it was cancelled).
    """

    def __init__(
        self,
        client: GapwatchClient,
        run_id: int,
        token: str,
        *,
        max_points: int = 20_000,
        flush_interval_s: float = 0.5,
        heartbeat_interval_s: float = 2.0,
        max_retries: int = 5,
        retry: RetryPolicy | None = None,
        keepalive: bool = False,
        spill: Spill | None = None,
        max_buffered_points: int = 250_000,
        renew_token: Callable[[], str | None] | None = None,
    ) -> None:
        self._client = client
        self.run_id = run_id
        self._token = token
        self._max_points = max_points
        self._flush_interval_s = flush_interval_s
        self._heartbeat_interval_s = heartbeat_interval_s
        self._retry = retry or RetryPolicy(max_retries=max_retries)
        self._keepalive = keepalive
        self._spill = spill
        self._max_buffered = max_buffered_points
        self._renew_token = renew_token

        self._lock = threading.Condition()
        self._series: Series = {}
        self._pending_points = 0
        self._events: list[dict[str, Any]] = []
        self._progress: Progress | None = None
        self._beat_progress: Progress = (0, None, None)
        self._progress_unsent = False
        self._last_heartbeat = 0.0
        self._closing = False
        self._in_flight = False
        self._error: BaseException | None = None
        self.stop_requested = False
        self.points_sent = 0
        self.batches_sent = 0

        self._thread = threading.Thread(target=self._send_loop, name="gapwatch-sender", daemon=True)
        self._thread.start()

    @property
    def token(self) -> str:
        """The run token in use (renewed if the run was resumed)."""
        return self._token

    # --- the training loop's side ---------------------------------------------------------

    def report_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Buffer one point per key at `step`. Non-finite values are refused at once."""
        points = {key: float(value) for key, value in values.items()}
        for key, value in points.items():
            if not math.isfinite(value):
                raise ValueError(f"{key} is {value} at step {step}")
        with self._lock:
            self._raise_if_failed()
            for key, value in points.items():
                steps, vals = self._series.setdefault(key, ([], []))
                steps.append(step)
                vals.append(value)
            self._pending_points += len(points)
            self._spill_if_full()
            if self._pending_points >= self._max_points:
                self._lock.notify()

    def report_event(self, step: int, kind: str, payload: Mapping[str, object]) -> None:
        with self._lock:
            self._raise_if_failed()
            self._events.append({"step": step, "kind": kind, "payload": dict(payload)})
            self._spill_if_full()

    def report_progress(
        self, step: int, total_steps: int | None, iterations_per_s: float | None = None
    ) -> None:
        with self._lock:
            self._raise_if_failed()
            self._progress = (step, total_steps, iterations_per_s)

    def should_stop(self) -> bool:
        """True once the server said the run was cancelled."""
        return self.stop_requested

    def flush(self, timeout_s: float = 60.0) -> None:
        """Block until everything buffered so far is sent (or the sender failed)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._lock.notify()
            while self._undelivered() and self._error is None:
                if not self._lock.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError("points not sent in time")
            self._raise_if_failed()

    def close(self) -> None:
        """Send what is left and stop the sender; raises if data could not be delivered."""
        with self._lock:
            self._closing = True
            self._lock.notify()
        self._thread.join()
        self._raise_if_failed()

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, exc_type: object, *_rest: object) -> None:
        if exc_type is None:
            self.close()
        else:  # keep the original error; still try to deliver what was measured before it
            try:
                self.close()
            except Exception:  # noqa: BLE001 - the training error is the one to report
                # A run that stopped taking data (cancelled) has nowhere to deliver them: not
                # a failure to report; the caller says that the run stopped, once.
                if not self.stop_requested:
                    log.exception("could not deliver the last points of run %s", self.run_id)

    @property
    def failure(self) -> BaseException | None:
        """What stopped the sender, None while it works: a RunConflict once the run accepts no
        more data (cancelled), a transient error (`is_transient`) once the retry policy gave
        up on an outage, or any other refusal."""
        return self._error

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"sending to run {self.run_id} failed: {self._error}") from (
                self._error
            )

    def _spilled(self) -> int:
        return len(self._spill) if self._spill is not None else 0

    def _undelivered(self) -> bool:
        """Whether anything reported is not yet sent (call under the lock)."""
        return bool(self._pending_points or self._events or self._in_flight or self._spilled())

    def _spill_if_full(self) -> None:
        """Move the buffers to the spill once they hold `max_buffered_points` (the sender is
        stuck retrying): a long outage fills a disk file, not the training process's memory."""
        if self._spill is None or self._pending_points + len(self._events) < self._max_buffered:
            return
        self._spill.put(self._series, self._events)
        self._series, self._events, self._pending_points = {}, [], 0
        self._lock.notify()

    # --- the sender thread ----------------------------------------------------------------

    def _send_loop(self) -> None:
        while True:
            with self._lock:
                idle = not (self._closing or self._spilled())
                if idle and self._pending_points < self._max_points:
                    self._lock.wait(timeout=self._flush_interval_s)
                series, self._series = self._series, {}
                events, self._events = self._events, []
                progress, self._progress = self._progress, None
                sent_points = self._pending_points
                self._pending_points = 0
                self._in_flight = True
                closing = self._closing
            try:
                self._drain_spill()
                self._send(series, events)
                self._maybe_heartbeat(progress, force=closing)
            except BaseException as error:  # noqa: BLE001 - surfaced to the training thread
                with self._lock:
                    self._error = error
                    self._in_flight = False
                    if isinstance(error, RunConflict):
                        self.stop_requested = True
                    self._lock.notify_all()
                return
            with self._lock:
                self.points_sent += sent_points
                self._in_flight = False
                self._lock.notify_all()
                if closing and not (self._pending_points or self._events or self._spilled()):
                    return

    def _drain_spill(self) -> None:
        """Deliver spilled chunks, oldest first; a chunk leaves the spill once delivered."""
        while self._spill is not None and (chunk := self._spill.peek()) is not None:
            series, events = chunk
            self._send(series, events)
            with self._lock:
                self._spill.pop()
                self.points_sent += sum(len(steps) for steps, _ in series.values())

    def _send(self, series: Series, events: list[dict[str, Any]]) -> None:
        # Events first: a boundary must be known before the points after it are drawn.
        for start in range(0, len(events), MAX_EVENTS_PER_BATCH):
            batch = events[start : start + MAX_EVENTS_PER_BATCH]
            self._with_retries(self._client.post_events, batch)
        if series:
            self._send_series(series)

    def _send_series(self, series: Series) -> None:
        for batch in series_batches(series, self._max_points):
            self._post_series(batch)

    def _post_series(self, batch: list[dict[str, Any]]) -> None:
        self._with_retries(self._client.post_metrics, batch)
        self.batches_sent += 1

    def _maybe_heartbeat(self, progress: Progress | None, force: bool) -> None:
        """Beat with new progress at most every `heartbeat_interval_s` (at once when closing),
        and with keepalive also without new progress, so that a quiet loop stays alive."""
        now = time.monotonic()
        if progress is not None:
            self._beat_progress, self._progress_unsent = progress, True
        due = now - self._last_heartbeat >= self._heartbeat_interval_s
        if not ((self._progress_unsent and (due or force)) or (self._keepalive and due)):
            return
        step, total, rate = self._beat_progress
        status = self._with_retries(
            self._client.heartbeat, step=step, total_steps=total, iterations_per_s=rate
        )
        self._last_heartbeat = now
        self._progress_unsent = False
        if status == "cancelled":
            self.stop_requested = True

    def _with_retries(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`call(run_id, token, ...)` under the retry policy; a refused token is renewed (at
        most twice) when `renew_token` can, else the refusal is final."""
        renewals = 0
        while True:
            try:
                return call_with_retries(
                    lambda: call(self.run_id, self._token, *args, **kwargs), self._retry
                )
            except RunConflict:
                if renewals == 2 or not self._renew():
                    raise
                renewals += 1

    def _renew(self) -> bool:
        token = self._renew_token() if self._renew_token is not None else None
        if token is None:
            return False
        self._token = token
        return True
