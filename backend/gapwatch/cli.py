"""`gapwatch up | serve | worker | migrate | submit | sweep | openapi | users | keys | projects |
login-link | plugins | datasets | import | login | logout | sync`.

`up` is the embedded default behind `make up`: migrate the SQLite file, create the first admin
and print a one-time sign-in link if there is no user yet, start one Celery worker process on
the filesystem broker, and serve the API; Ctrl-C stops both (the worker first: its run resumes
at the next start). One `up` per data directory (a lock), and the worker dies with it.

`users`, `keys`, `projects` and `login-link` are administration on the server's host: they
open the database of the current settings directly (as `docker compose run --rm backend
gapwatch users create NAME --admin` does in a compose deployment).

`login`, `logout` and `sync` belong to the SDK for users' own training loops (`gapwatch.sdk`;
no server extras needed): keep a checked API key for `gapwatch.init`, and upload offline runs.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from gapwatch.config import DEVELOPMENT_WORKER_TOKEN, FILESYSTEM_BROKER, Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger("gapwatch")


def _apply_overrides(args: argparse.Namespace) -> Settings:
    # Flags become environment variables so that child processes see the same settings.
    for flag, variable in (("host", "GAPWATCH_HOST"), ("port", "GAPWATCH_PORT")):
        value = getattr(args, flag, None)
        if value is not None:
            os.environ[variable] = str(value)
    get_settings.cache_clear()
    return get_settings()


def cmd_migrate(_args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from gapwatch.server.migrate import upgrade_database

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.resolved_database_url)
    # Logs of a container are widely readable: never print the password.
    shown = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    print(f"database at head: {shown}")
    return 0


# `gapwatch serve` runs one API process per CPU up to this many by default: past a few, the
# database, not the API's Python, is what limits a self-hosted server.
MAX_DEFAULT_WORKERS = 4
# Seconds a stopping API process lets requests finish before it cancels them (browsers
# reconnect a cancelled live stream by themselves).
SHUTDOWN_GRACE_S = 5


def default_workers(settings: Settings) -> int:
    """API processes `gapwatch serve` runs without --workers: one per CPU this process may use,
    at most MAX_DEFAULT_WORKERS; one on SQLite, whose file takes one writer at a time."""
    if settings.resolved_database_url.startswith("sqlite"):
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_WORKERS))


def _server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for the API, as `gapwatch serve` and `gapwatch up` both run it: the
    app factory builds each process's app from the same settings (the environment)."""
    return {
        "app": "gapwatch.server.app:create_app",
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        # Open live streams never end by themselves: without a bound, a stop (SIGTERM) would
        # wait for every run page to close, and `docker stop` would end in a SIGKILL.
        "timeout_graceful_shutdown": SHUTDOWN_GRACE_S,
    }


def _serve(settings: Settings, workers: int = 1) -> None:
    """Serve the API: `workers` processes (uvicorn's supervisor restarts one that dies)."""
    import uvicorn

    uvicorn.run(workers=workers, **_server_options(settings))


def _process_count(text: str) -> int:
    """--workers: a whole number from 1 to 64."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"expected 1 to 64 processes, not {text!r}")
    return count


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _apply_overrides(args)
    placeholder = settings.worker_token.get_secret_value() == DEVELOPMENT_WORKER_TOKEN
    if placeholder and settings.host not in LOOPBACK_HOSTS:
        # The placeholder is public: on a reachable address anyone could claim runs with it.
        print(
            f"gapwatch serve: listening on {settings.host} needs GAPWATCH_WORKER_TOKEN set to a "
            "secret (`openssl rand -hex 32`); the development placeholder only serves loopback",
            file=sys.stderr,
        )
        return 2
    if not args.no_migrate:
        cmd_migrate(args)
    _recover(settings, requeue_running=False)  # other hosts' workers may be running runs
    workers = args.workers or default_workers(settings)
    log.info("API on %s: %d process(es)", settings.resolved_api_url, workers)
    _serve(settings, workers)
    return 0


def worker_command(settings: Settings, queues: str | None = None) -> list[str]:
    """The Celery worker command line: one run at a time per process, on the app's own solo
    pool (`gapwatch_worker.solo.StoppableSoloPool`: no `--pool`, which would replace it)."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "gapwatch_worker.app",
        "worker",
        "--concurrency=1",
        "--loglevel=INFO",
        f"--queues={queues or settings.queue}",
        "--hostname=gapwatch@%h." + str(os.getpid()),
    ]
    if settings.broker_url.startswith(FILESYSTEM_BROKER):
        command += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
    return command


def cmd_worker(args: argparse.Namespace) -> int:
    settings = get_settings()
    os.execv(sys.executable, worker_command(settings, args.queues))
    return 0  # not reached


def _stop_child(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Stop the embedded worker now, then kill it if it is stuck.

    SIGTERM, which its environment (`REMAP_SIGTERM=SIGQUIT`) makes Celery's cold shutdown: the
    run it executes is not finished but unwound where it is (`StoppableSoloPool`), its points
    so far are sent, and the next start resumes it from its checkpoint. Before Celery has set
    up its handlers, SIGTERM simply ends the process.
    """
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


EMBEDDED_ADMIN = "admin"


def _embedded_worker_secret() -> Settings:
    """A random worker secret for this start, unless one is configured: the API and its one
    worker share it through the environment, and no known value ever opens a claim."""
    if get_settings().worker_token.get_secret_value() == DEVELOPMENT_WORKER_TOKEN:
        os.environ["GAPWATCH_WORKER_TOKEN"] = secrets.token_urlsafe(32)
        get_settings.cache_clear()
    return get_settings()


def _welcome(settings: Settings) -> None:
    """The first start makes an admin and prints a one-time link; later ones say how to get
    one. Nothing is ever served with a default password."""
    from gapwatch.server.accounts import service as accounts
    from gapwatch.server.accounts.endpoints import login_url

    with _database() as session:
        first = accounts.user_count(session) == 0
        if first:
            admin = accounts.create_user(session, EMBEDDED_ADMIN, password=None, is_admin=True)
            token, expires = accounts.create_login_link(
                session, admin, ttl_s=settings.login_link_ttl_s
            )
    minutes = round(settings.login_link_ttl_s / 60)
    if first:
        print(
            f"\nGapwatch: created the admin user {EMBEDDED_ADMIN!r}. Sign in once with this link "
            f"(valid for {minutes} minutes, one use):\n\n    {login_url(settings, token)}\n",
            flush=True,
        )
    else:
        print(
            f"\nGapwatch: {settings.resolved_public_url}  (for a one-time sign-in link: "
            f"`{_program()} login-link`)\n",
            flush=True,
        )


def _program() -> str:
    """How to call this command again from the user's shell (the venv's script under make)."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "gapwatch" and argv0.exists():
        try:
            return str(argv0.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(argv0)
    return "gapwatch"


UP_LOCK_FILE = "up.lock"


def _lock_data_dir(data_dir: Path) -> IO[str] | None:
    """This process's hold on `data_dir` for `gapwatch up`, or None if another process has it.

    An exclusive `flock` on an open file: the kernel releases it when the holder ends, even
    by kill -9, so a crash leaves no stale lock. The file holds the holder's pid for the
    message. Keep the returned file open for as long as the service runs.
    """
    import fcntl

    lock = (data_dir / UP_LOCK_FILE).open("a+")  # not truncated before we hold it
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        print(
            f"gapwatch up is already running here (pid {holder}); stop it first "
            f"(data directory {data_dir})",
            file=sys.stderr,
        )
        return None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def _serve_embedded(settings: Settings, worker: subprocess.Popen[bytes]) -> None:
    """Serve the API until a signal; then stop the worker first, while the API still takes its
    last points, and only then the API (a second signal stops both at once)."""
    import uvicorn

    class EmbeddedServer(uvicorn.Server):
        stopping: threading.Thread | None = None

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.stopping is None:
                self.stopping = threading.Thread(
                    target=self._stop_worker_then_exit, args=(sig, frame), name="gapwatch-stop"
                )
                self.stopping.start()
            else:
                worker.kill()
                super().handle_exit(sig, frame)

        def _stop_worker_then_exit(self, sig: int, frame: FrameType | None) -> None:
            _stop_child(worker)
            if not self.should_exit:  # else a second signal came first: no forced exit here
                super().handle_exit(sig, frame)

    config = uvicorn.Config(**_server_options(settings))
    EmbeddedServer(config).run()


def cmd_up(args: argparse.Namespace) -> int:
    _apply_overrides(args)
    settings = _embedded_worker_secret()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # One service per data directory: a second one would recover (re-queue) the first one's
    # runs and start a second worker on the same broker folder.
    lock = _lock_data_dir(settings.data_dir)
    if lock is None:
        return 1
    with lock:
        cmd_migrate(args)
        _welcome(settings)
        _recover(settings, requeue_running=True)  # the embedded worker is the only one
        env = dict(
            os.environ,
            GAPWATCH_API_URL=settings.resolved_api_url,
            GAPWATCH_PARENT_PID=str(os.getpid()),  # it dies with us, even by kill -9
            REMAP_SIGTERM="SIGQUIT",  # see _stop_child
        )
        # Own session: the terminal's Ctrl-C reaches only us, and we stop the worker ourselves.
        worker = subprocess.Popen(worker_command(settings), env=env, start_new_session=True)
        log.info("worker pid %s; API on %s", worker.pid, settings.resolved_api_url)
        # uvicorn re-raises the signal that stopped it; SIGTERM must not kill us before the
        # worker.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            _serve_embedded(settings, worker)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            _stop_child(worker)
            _release_stopped(settings)
    return 0


def _release_stopped(settings: Settings) -> None:
    """After a stop of the embedded worker: its interrupted run waits, queued, for the next
    start, and the stop does not count as one of its attempts (a crash does: see `_recover`)."""
    from sqlalchemy.exc import SQLAlchemyError

    from gapwatch.server.runs.service import release_stopped_runs

    try:
        with _database() as session:
            released = release_stopped_runs(session)
    except SQLAlchemyError as error:  # the next start recovers it all the same
        log.warning("interrupted runs not released: %s", error)
        return
    if released:
        print(f"stopped: {released} run(s) resume from their checkpoints at the next start")


def _recover(settings: Settings, *, requeue_running: bool) -> None:
    from gapwatch.queue import RunQueue
    from gapwatch.server.db import create_db_engine, create_session_factory, pop_after_commit
    from gapwatch.server.runs.service import recover_runs

    engine = create_db_engine(settings.resolved_database_url)
    queue = RunQueue(settings)
    try:
        with create_session_factory(engine)() as session:
            resumed, requeued = recover_runs(session, queue, requeue_running=requeue_running)
            session.commit()
            for callback in pop_after_commit(session):
                callback()
        if resumed or requeued:
            print(
                f"recovered: {resumed} interrupted run(s) queued to resume from their "
                f"checkpoints, {requeued} queued run(s) sent",
                flush=True,
            )
    finally:
        queue.close()
        engine.dispose()


# --- submitting runs and sweeps -------------------------------------------------------------


def _api_client(args: argparse.Namespace) -> tuple[Any, str]:
    """A client of the server that --url, $GAPWATCH_URL or the login names, with --api-key,
    $GAPWATCH_API_KEY or the login's key (as `gapwatch import` and `sync`), and that URL."""
    from gapwatch.client import GapwatchClient
    from gapwatch.sdk.credentials import resolve

    url, key = resolve(args.url, args.api_key)
    return GapwatchClient(url, api_key=key), url


def _refusal(command: str, error: Exception) -> int:
    """Print why the API refused (each field of a 422 on its own line); exit status 2."""
    detail = getattr(error, "detail", None)
    if isinstance(detail, list):
        lines = [
            f"  {'.'.join(str(p) for p in item.get('loc', ())[1:])}: {item.get('msg')}"
            for item in detail
            if isinstance(item, dict)
        ]
        print(f"gapwatch {command}: refused:\n" + "\n".join(lines), file=sys.stderr)
    else:
        print(f"gapwatch {command}: {detail or error}", file=sys.stderr)
    return 2


def _read_document(path: Path) -> Any:
    """A JSON file (.json) or a YAML one (anything else), numbers read as YAML 1.2 reads them
    (PyYAML alone reads `1e-3` as text).

    Raises:
        OSError: It cannot be read.
        ValueError: It is not JSON, or not YAML.
    """
    text = path.read_text()
    if path.suffix.lower() == ".json":
        return json.loads(text)
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
            |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
            |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
            re.X,
        ),
        list("-+0123456789."),
    )
    try:
        return yaml.load(text, Loader=Loader)  # a SafeLoader, with one more resolver
    except yaml.YAMLError as error:
        raise ValueError(f"not YAML: {error}") from None


def _percent(value: float | None) -> str:
    """A fraction or a share in percentage points, one decimal ("-": none)."""
    return "-" if value is None else f"{value * 100:.1f}"


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def cmd_submit(args: argparse.Namespace) -> int:
    from gapwatch.client import GapwatchAPIError

    try:
        spec = _read_document(Path(args.spec))
    except (OSError, ValueError) as error:
        print(f"gapwatch submit: {args.spec}: {error}", file=sys.stderr)
        return 2
    client, url = _api_client(args)
    with client:
        try:
            run = client.create_run(spec)
        except GapwatchAPIError as error:
            return _refusal("submit", error)
        print(f"run {run['id']} {run['status']}: {url}/runs/{run['id']}", flush=True)
        if not args.wait:
            return 0
        page = f"{url}/runs/{run['id']}"
        waited = _wait_or_stop(_wait_for_run, client, run, args.timeout, "run", page)
        if isinstance(waited, int):
            return waited
        run = waited
        why = f": {_first_line(run['error'])}" if run["error"] else ""
        print(f"run {run['id']} {run['status']}{why}")
        _print_headline(client, run)
        print(page)
        return 0 if run["status"] == "succeeded" else 1


def _wait_or_stop(
    wait: Callable[..., dict[str, Any]],
    client: Any,
    thing: dict[str, Any],
    timeout_s: float | None,
    kind: str,
    page: str,
) -> dict[str, Any] | int:
    """`wait(client, thing, timeout_s=...)`: the run or sweep once it has ended, or, where the
    wait timed out or was interrupted, the exit status after saying so on stderr."""
    try:
        return wait(client, thing, timeout_s=timeout_s)
    except (TimeoutError, KeyboardInterrupt) as stop:
        why = str(stop) or "interrupted"
        print(f"\nstopped waiting ({why}); the {kind} goes on: {page}", file=sys.stderr)
        return 130 if isinstance(stop, KeyboardInterrupt) else 1


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def _wait_for_run(client: Any, run: dict[str, Any], *, timeout_s: float | None) -> dict[str, Any]:
    """The run once it has ended, with one progress bar of its steps on stderr meanwhile."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("run {task.fields[run_id]} {task.fields[status]:<9}"),
        BarColumn(),
        TextColumn("{task.fields[steps]}"),
        TimeElapsedColumn(),
        console=_stderr_console(),
    ) as bar:
        task = bar.add_task("run", total=None, run_id=run["id"], status=run["status"], steps="")

        def show(now: dict[str, Any]) -> None:
            step, total = now["progress"]["step"], now["progress"]["total"]
            steps = f"{step:,}/{total:,} it" if total else f"{step:,} it"
            bar.update(task, completed=step, total=total, status=now["status"], steps=steps)

        return client.wait_for_run(run["id"], timeout_s=timeout_s, poll_s=1.0, on_poll=show)  # type: ignore[no-any-return]


def _labels(client: Any) -> dict[str, dict[str, Any]]:
    """The metric registry by id, or nothing if the server does not say (an older one)."""
    from gapwatch.client import GapwatchAPIError

    try:
        return {d["id"]: d for d in client.definitions()}
    except GapwatchAPIError:
        return {}


def _print_headline(client: Any, run: dict[str, Any]) -> None:
    """The run's headline numbers (percentage points), one per line."""
    headline = run.get("headline")
    if not isinstance(headline, dict) or not headline:
        print("headline numbers: none (the run has no evaluations, or they are still computed)")
        return
    from rich.console import Console
    from rich.table import Table

    labels = _labels(client)
    table = Table(title=f"run {run['id']}: headline numbers (points)", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for metric_id, value in headline.items():
        entry = labels.get(metric_id, {})
        arrow = {True: " ↑", False: " ↓"}.get(entry.get("higher_is_better"), "")  # type: ignore[call-overload]
        table.add_row(f"{entry.get('label', metric_id)}{arrow}", _percent(value))
    Console().print(table)


def cmd_sweep(args: argparse.Namespace) -> int:
    from gapwatch.client import GapwatchAPIError

    try:
        body = _read_document(Path(args.file))
    except (OSError, ValueError) as error:
        print(f"gapwatch sweep: {args.file}: {error}", file=sys.stderr)
        return 2
    if not isinstance(body, dict):
        print(f"gapwatch sweep: {args.file} holds no mapping (base, axes, ...)", file=sys.stderr)
        return 2
    client, url = _api_client(args)
    with client:
        try:
            sweep = client.create_sweep(body)
        except GapwatchAPIError as error:
            return _refusal("sweep", error)
        page = f"{url}/sweeps/{sweep['id']}"
        print(f"sweep {sweep['id']} {sweep['name']}: {sweep['runs']} runs queued: {page}")
        sys.stdout.flush()  # before the progress bar, when stdout is a pipe
        if not args.wait:
            return 0
        waited = _wait_or_stop(_wait_for_sweep, client, sweep, args.timeout, "sweep", page)
        if isinstance(waited, int):
            return waited
        sweep = waited
        metrics = args.metrics.split(",") if args.metrics else None
        _print_results(_final_results(client, sweep["id"], args.sort), sweep, metrics)
        print(page)
        return 0 if sweep["progress"]["succeeded"] == sweep["runs"] else 1


def _ended(progress: dict[str, int]) -> int:
    return sum(n for status, n in progress.items() if status not in ("queued", "running"))


def _wait_for_sweep(
    client: Any, sweep: dict[str, Any], *, timeout_s: float | None, poll_s: float = 2.0
) -> dict[str, Any]:
    """The sweep once every run of it has ended, with one progress bar of ended/total runs on
    stderr meanwhile."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    started = time.monotonic()
    with Progress(
        TextColumn(f"sweep {sweep['id']}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs ended {task.fields[detail]}"),
        TimeElapsedColumn(),
        console=_stderr_console(),
    ) as bar:
        task = bar.add_task("sweep", total=sweep["runs"], detail="")
        while True:
            progress = sweep["progress"]
            detail = " · ".join(
                f"{n} {status}" for status, n in progress.items() if n and status != "succeeded"
            )
            bar.update(task, completed=_ended(progress), total=sweep["runs"], detail=detail)
            if _ended(progress) >= sweep["runs"]:
                return sweep
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                raise TimeoutError(f"sweep {sweep['id']} still running after {timeout_s} s")
            time.sleep(poll_s)
            sweep = client.get_sweep(sweep["id"])


# Seconds the numbers of the last runs to end may take to be written (just after each ends).
RESULTS_SETTLE_S = 30.0


def _final_results(client: Any, sweep_id: int, sort: str | None) -> dict[str, Any]:
    """The results once no row is provisional (every run's numbers written), or as they are
    after RESULTS_SETTLE_S."""
    import time

    deadline = time.monotonic() + RESULTS_SETTLE_S
    while True:
        results: dict[str, Any] = client.sweep_results(sweep_id, sort=sort)
        settled = not any(
            cell["provisional"] for row in results["rows"] for cell in row["cells"].values()
        )
        if settled or time.monotonic() > deadline:
            return results
        time.sleep(0.5)


def _print_results(
    results: dict[str, Any], sweep: dict[str, Any], metric_ids: list[str] | None
) -> None:
    """The results table: a row per configuration, mean ± 95% CI in points per metric."""
    from rich.console import Console
    from rich.table import Table

    metrics = [m for m in results["metrics"] if metric_ids is None or m["id"] in metric_ids]
    table = Table(
        title=f"sweep {sweep['id']} {sweep['name']}: mean ± 95% CI over seeds (points)",
        title_justify="left",
        caption="n: runs that contribute; * some runs have not ended",
        caption_justify="left",
    )
    for axis in results["axes"]:
        table.add_column(axis)
    table.add_column("n", justify="right")
    for m in metrics:
        table.add_column(f"{m['label']} {'↑' if m['higher_is_better'] else '↓'}", justify="right")
    for row in results["rows"]:
        cells = list(row["cells"].values())
        n = max((c["n"] for c in cells), default=0)
        provisional = any(c["provisional"] for c in cells)
        line = [_shown(row["config"].get(axis)) for axis in results["axes"]]
        line.append(f"{n}*" if provisional else str(n))
        for m in metrics:
            cell = row["cells"][m["id"]]
            text = _percent(cell["mean"])
            if cell["mean"] is not None and cell["ci95"] is not None:
                text += f" ± {_percent(cell['ci95'])}"
            if cell["mean"] is not None and cell["n"] != n:
                text += f" (n={cell['n']})"
            line.append(text)
        table.add_row(*line)
    Console().print(table)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# --- administration on the server's host --------------------------------------------------------


@contextmanager
def _database() -> Iterator[Session]:
    """A session on the configured database that commits when the block ends."""
    from gapwatch.server.db import create_db_engine, create_session_factory

    engine = create_db_engine(get_settings().resolved_database_url)
    try:
        with create_session_factory(engine)() as session:
            yield session
            session.commit()
    finally:
        engine.dispose()


class CommandError(Exception):
    """A refusal to print on stderr (exit status 2)."""


def _domain_errors() -> tuple[type[Exception], ...]:
    from gapwatch.server.errors import GapwatchError

    return (GapwatchError, CommandError)


def _read_password(args: argparse.Namespace) -> str | None:
    from gapwatch.server.access.passwords import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS

    if getattr(args, "no_password", False):
        return None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise CommandError("the passwords differ")
    else:
        raise CommandError("no terminal: give --password-stdin (or --no-password)")
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise CommandError(
            f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )
    return password


def _the_user(session: Session, name: str | None) -> Any:
    """User `name`, or the only admin when no name is given."""
    from gapwatch.server.accounts import service as accounts

    if name:
        return accounts.get_user(session, name)
    admins = [u for u in accounts.users(session) if u.is_admin and u.disabled_at is None]
    if len(admins) != 1:
        raise CommandError("name the user (there is not exactly one enabled admin)")
    return admins[0]


def cmd_users(args: argparse.Namespace) -> int:
    from gapwatch.server.accounts import service as accounts

    if args.action == "create":
        password = _read_password(args)
        with _database() as session:
            user = accounts.create_user(session, args.name, password=password, is_admin=args.admin)
            print(f"user {user.name} created" + (" (admin)" if user.is_admin else ""))
    elif args.action == "list":
        with _database() as session:
            for user in accounts.users(session):
                flags = [
                    f for f, on in (("admin", user.is_admin), ("disabled", user.disabled_at)) if on
                ]
                print(f"{user.name}\t{','.join(flags) or '-'}\t{user.created_at:%Y-%m-%d}")
    else:
        with _database() as session:
            accounts.update_user(session, args.name, disabled=args.action == "disable")
            print(f"user {args.name} {args.action}d")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from gapwatch.server.accounts import service as accounts
    from gapwatch.server.models import Role

    with _database() as session:
        user = _the_user(session, args.user)
        if args.action == "create":
            project = accounts.get_project(session, args.project) if args.project else None
            key, secret = accounts.create_key(
                session,
                user,
                args.name,
                project=project,
                role=Role(args.role) if args.role else None,
                expires_in_days=args.expires_in_days,
            )
            scope = f"project {args.project}" if project else "every project of the user"
            print(
                f"API key {key.id} {key.name!r} of {user.name} ({scope}, role "
                f"{args.role or 'of the user'}); it is shown this once:"
            )
            print(secret)
        elif args.action == "list":
            keys = accounts.keys(session, user.id)
            names = accounts.project_names(session, [k.project_id for k in keys])
            for key in keys:
                state = "revoked" if key.revoked_at else "active"
                scope = names.get(key.project_id, "-") if key.project_id else "*"
                print(f"{key.id}\t{key.prefix}…\t{key.name}\t{scope}\t{key.role or '-'}\t{state}")
        else:
            key = accounts.revoke_key(session, user.id, args.id)
            print(f"API key {key.id} {key.name!r} revoked")
    return 0


def cmd_projects(args: argparse.Namespace) -> int:
    from gapwatch.server.accounts import service as accounts
    from gapwatch.server.models import Role

    with _database() as session:
        if args.action == "create":
            project = accounts.create_project(session, _the_user(session, args.owner), args.name)
            print(f"project {project.name} created")
        elif args.action == "list":
            for project, members in accounts.every_project_with_members(session):
                people = ", ".join(f"{u} ({r})" for u, r in members)
                print(f"{project.name}\t{people or '-'}")
        elif args.action == "add-member":
            project = accounts.get_project(session, args.project)
            user = accounts.get_user(session, args.user)
            accounts.set_member(session, project, user, Role(args.role))
            print(f"{user.name} is {args.role} of {project.name}")
    return 0


def cmd_login_link(args: argparse.Namespace) -> int:
    from gapwatch.server.accounts import service as accounts
    from gapwatch.server.accounts.endpoints import login_url

    settings = get_settings()
    with _database() as session:
        user = _the_user(session, args.user)
        token, expires = accounts.create_login_link(session, user, ttl_s=settings.login_link_ttl_s)
    print(f"one-time sign-in link for {user.name}, valid until {expires:%H:%M:%S %Z}:")
    print(login_url(settings, token))
    return 0


def cmd_openapi(_args: argparse.Namespace) -> int:
    from gapwatch.server.app import create_app

    # An in-memory database: printing the schema must not create or touch a real one.
    app = create_app(Settings(database_url="sqlite://", stale_sweep_interval_s=0))
    sys.stdout.write(json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n")
    return 0


def cmd_plugins(_args: argparse.Namespace) -> int:
    """Lists every strategy, model and benchmark a run spec may name here, with the package that
    provides it, then the declared plugins that failed to load (exit status 1 if any)."""
    from gapwatch import plugins, spec  # importing the spec runs the discovery

    for kind, components in (
        ("strategies", spec.STRATEGY_COMPONENTS),
        ("models", spec.MODEL_COMPONENTS),
        ("benchmarks", spec.BENCHMARK_COMPONENTS),
    ):
        print(f"{kind}:")
        for component in components:
            package = "built-in" if component.builtin else component.distribution
            print(f"  {component.name:<24} {package:<28} {component.spec_class.implementation}")
    disabled = os.environ.get(plugins.DISABLED_ENV, "").strip()
    if disabled:
        print(f"left out on purpose ({plugins.DISABLED_ENV}): {disabled}")
    problems = plugins.problems()
    if problems:
        print("failed to load (left out):")
        for problem in problems:
            print(f"  {problem.kind} {problem.name!r} from {problem.distribution}: {problem.error}")
    return 1 if problems else 0


def _server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="API base URL (default GAPWATCH_URL, then the login config)")
    parser.add_argument("--api-key", help="default GAPWATCH_API_KEY, then the login config")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gapwatch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="embedded service: API + one worker, SQLite, no other server")
    up.add_argument("--host")
    up.add_argument("--port", type=int)
    up.set_defaults(func=cmd_up)

    serve = sub.add_parser("serve", help="the API server only")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    serve.add_argument(
        "--workers",
        type=_process_count,
        help=f"API processes (default: one per CPU, at most {MAX_DEFAULT_WORKERS}; 1 on SQLite)",
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="a Celery worker executing runs, one at a time")
    worker.add_argument("-Q", "--queues", help="comma-separated queues (default GAPWATCH_QUEUE)")
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(func=cmd_migrate)

    submit = sub.add_parser("submit", help="submit a run spec (JSON or YAML file)")
    submit.add_argument("spec")
    _server_arguments(submit)
    submit.add_argument(
        "--wait", action="store_true", help="show its progress until it ends, then its numbers"
    )
    submit.add_argument("--timeout", type=float, default=3600.0, help="seconds (with --wait)")
    submit.set_defaults(func=cmd_submit)

    sweep = sub.add_parser(
        "sweep",
        help="create a sweep: runs of a base spec over axes of values (YAML or JSON file)",
        description="FILE holds the body of POST /api/v1/sweeps: base (a run spec), axes "
        "({'optimizer.lr': [0.1, 0.01], 'seed': [0, 1, 2]}), and optionally method (grid or "
        "random), budget, seed, name, project.",
    )
    sweep.add_argument("file")
    _server_arguments(sweep)
    sweep.add_argument(
        "--wait",
        action="store_true",
        help="show a progress bar until every run has ended, then the results table",
    )
    sweep.add_argument("--timeout", type=float, help="seconds to wait at most (with --wait)")
    sweep.add_argument("--sort", help="results order: a metric id, '-' for descending")
    sweep.add_argument("--metrics", help="comma-separated metric ids to show (default: all)")
    sweep.set_defaults(func=cmd_sweep)

    openapi = sub.add_parser("openapi", help="print the API's OpenAPI document (JSON)")
    openapi.set_defaults(func=cmd_openapi)

    users = sub.add_parser("users", help="people who sign in (on the server's host)")
    users_sub = users.add_subparsers(dest="action", required=True)
    create = users_sub.add_parser("create", help="a new user (asks for a password)")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true", help="may manage users and projects")
    create.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    create.add_argument(
        "--no-password", action="store_true", help="sign in with one-time links only"
    )
    users_sub.add_parser("list", help="every user")
    for action in ("disable", "enable"):
        toggle = users_sub.add_parser(action, help=f"{action} a user's sign-in and keys")
        toggle.add_argument("name")
    users.set_defaults(func=cmd_users)

    keys = sub.add_parser("keys", help="API keys for programs (on the server's host)")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    make = keys_sub.add_parser("create", help="a new key, printed once on the last line")
    make.add_argument("name")
    make.add_argument("--user", help="whose key (default: the only admin)")
    make.add_argument("--project", help="the only project the key may act in")
    make.add_argument("--role", choices=["viewer", "editor"], help="the most the key may do")
    make.add_argument("--expires-in-days", type=int)
    listing = keys_sub.add_parser("list", help="a user's keys (prefixes only)")
    listing.add_argument("--user")
    revoke = keys_sub.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("id", type=int)
    revoke.add_argument("--user")
    keys.set_defaults(func=cmd_keys)

    projects = sub.add_parser("projects", help="projects and members (on the server's host)")
    projects_sub = projects.add_subparsers(dest="action", required=True)
    new = projects_sub.add_parser("create", help="a new project")
    new.add_argument("name")
    new.add_argument("--owner", help="its first owner (default: the only admin)")
    projects_sub.add_parser("list", help="every project and its members")
    member = projects_sub.add_parser("add-member", help="add a person or change their role")
    member.add_argument("project")
    member.add_argument("user")
    member.add_argument("--role", choices=["viewer", "editor", "owner"], required=True)
    projects.set_defaults(func=cmd_projects)

    link = sub.add_parser("login-link", help="print a one-time sign-in link (15 minutes)")
    link.add_argument("user", nargs="?", help="default: the only admin")
    link.set_defaults(func=cmd_login_link)

    listing_plugins = sub.add_parser(
        "plugins",
        help="strategies, models and benchmarks available here, with their packages, and the "
        "plugins that failed to load (exit status 1 if any)",
    )
    listing_plugins.set_defaults(func=cmd_plugins)

    from gapwatch import tensorboard
    from gapwatch.datasets import commands as dataset_commands  # datasets import|list|upload

    dataset_commands.register(sub)
    tensorboard.register(sub)
    from gapwatch.sdk import commands as sdk_commands  # login, logout, sync: core only

    sdk_commands.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # httpx logs every request at INFO: a wait that polls would print a line per poll.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    if args.command in ("users", "keys", "projects", "login-link"):
        try:
            return int(args.func(args))
        except _domain_errors() as error:
            print(f"gapwatch {args.command}: {getattr(error, 'detail', error)}", file=sys.stderr)
            return 2
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
