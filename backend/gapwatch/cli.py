"""`gapwatch up | serve | worker | migrate | submit`.

`up` is the embedded default behind `make up`: migrate the SQLite file, start one Celery
worker process on the filesystem broker, and serve the API; Ctrl-C stops both.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from gapwatch.config import FILESYSTEM_BROKER, Settings, get_settings

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


def _serve(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        "gapwatch.server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level="info",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _apply_overrides(args)
    if not args.no_migrate:
        cmd_migrate(args)
    _recover(settings, fail_running=False)  # other hosts' workers may be running runs
    _serve(settings)
    return 0


def worker_command(settings: Settings, queues: str | None = None) -> list[str]:
    """The Celery worker command line: one run at a time per process (`--pool=solo`)."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "gapwatch_worker.app",
        "worker",
        "--pool=solo",
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
    """Cold-stop the worker (SIGQUIT: do not finish the current run), then kill if stuck."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGQUIT)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def cmd_up(args: argparse.Namespace) -> int:
    settings = _apply_overrides(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    cmd_migrate(args)
    _recover(settings, fail_running=True)  # the embedded worker is the only one
    env = dict(os.environ, GAPWATCH_API_URL=settings.resolved_api_url)
    # Own session: the terminal's Ctrl-C reaches only us, and we stop the worker ourselves.
    worker = subprocess.Popen(worker_command(settings), env=env, start_new_session=True)
    log.info("worker pid %s; API on %s", worker.pid, settings.resolved_api_url)
    # uvicorn re-raises the signal that stopped it; SIGTERM must not kill us before the worker.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        _serve(settings)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_child(worker)
    return 0


def _recover(settings: Settings, *, fail_running: bool) -> None:
    from gapwatch.queue import RunQueue
    from gapwatch.server.db import create_db_engine, create_session_factory, pop_after_commit
    from gapwatch.server.runs.service import recover_runs

    engine = create_db_engine(settings.resolved_database_url)
    queue = RunQueue(settings)
    try:
        with create_session_factory(engine)() as session:
            failed, requeued = recover_runs(session, queue, fail_running=fail_running)
            session.commit()
            for callback in pop_after_commit(session):
                callback()
        if failed or requeued:
            print(f"recovered: {failed} interrupted run(s) failed, {requeued} queued run(s) sent")
    finally:
        queue.close()
        engine.dispose()


def cmd_submit(args: argparse.Namespace) -> int:
    from gapwatch.client import GapwatchClient

    spec = json.loads(Path(args.spec).read_text())
    with GapwatchClient(args.url or get_settings().resolved_api_url) as client:
        run = client.create_run(spec)
        print(f"run {run['id']} {run['status']}")
        if args.wait:
            run = client.wait_for_run(run["id"], timeout_s=args.timeout)
            print(
                f"run {run['id']} {run['status']}" + (f": {run['error']}" if run["error"] else "")
            )
            return 0 if run["status"] == "succeeded" else 1
    return 0


def cmd_openapi(_args: argparse.Namespace) -> int:
    from gapwatch.server.app import create_app

    # An in-memory database: printing the schema must not create or touch a real one.
    app = create_app(Settings(database_url="sqlite://", stale_sweep_interval_s=0))
    sys.stdout.write(json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n")
    return 0


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
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="a Celery worker executing runs, one at a time")
    worker.add_argument("-Q", "--queues", help="comma-separated queues (default GAPWATCH_QUEUE)")
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(func=cmd_migrate)

    submit = sub.add_parser("submit", help="submit a run spec (JSON file)")
    submit.add_argument("spec")
    submit.add_argument("--url", help="API base URL (default from settings)")
    submit.add_argument("--wait", action="store_true", help="wait until the run ends")
    submit.add_argument("--timeout", type=float, default=3600.0)
    submit.set_defaults(func=cmd_submit)

    openapi = sub.add_parser("openapi", help="print the API's OpenAPI document (JSON)")
    openapi.set_defaults(func=cmd_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
