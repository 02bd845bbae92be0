"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from gapwatch.config import Settings, get_settings
from gapwatch.queue import BrokerUnavailable, RunQueue
from gapwatch.server.access.middleware import AuthenticationMiddleware
from gapwatch.server.accounts.endpoints import (
    auth_router,
    keys_router,
    projects_router,
    users_router,
)
from gapwatch.server.apidoc import install_error_answers
from gapwatch.server.cache import AnalysisCache
from gapwatch.server.compare.endpoints import router as compare_router
from gapwatch.server.datasets.endpoints import router as datasets_router
from gapwatch.server.db import create_db_engine, create_session_factory, pop_after_commit
from gapwatch.server.docs import install_docs
from gapwatch.server.edge import RateLimiter, install_edge
from gapwatch.server.errors import database_unavailable, first_line, install_error_handlers
from gapwatch.server.events.endpoints import router as events_router
from gapwatch.server.figures.endpoints import router as figures_router
from gapwatch.server.live.endpoints import router as live_router
from gapwatch.server.metrics.endpoints import export_router
from gapwatch.server.metrics.endpoints import router as metrics_router
from gapwatch.server.runs import listing
from gapwatch.server.runs import service as runs_service
from gapwatch.server.runs.endpoints import router as runs_router
from gapwatch.server.spa import mount_dashboard
from gapwatch.server.specs.endpoints import router as specs_router
from gapwatch.server.summaries.endpoints import definitions_router
from gapwatch.server.summaries.endpoints import router as summaries_router
from gapwatch.server.sweeps.endpoints import router as sweeps_router

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
# A run spec is a few KiB.
DEFAULT_BODY_LIMIT = 64 * 2**10


class Health(BaseModel):
    status: str
    database: str


async def _sweep_stale_runs(
    settings: Settings,
    session_factory: sessionmaker[Session],
    run_queue: RunQueue,
    cache: AnalysisCache,
) -> None:
    """Every stale_sweep_interval_s: send queued runs that the broker never got, requeue engine
    runs whose heartbeat went stale, mark silent loop runs crashed, and write the headline
    numbers of ended runs that have none (see runs/listing.py).

    No heartbeat can land while this process or its database is away, so silence counts only
    once the database has been reachable for a whole heartbeat timeout (since the start, or
    since the last sweep that could not reach it): workers that rode out the outage beat
    again first, and keep their runs.
    """
    reachable_since = time.monotonic()
    while True:
        await asyncio.sleep(settings.stale_sweep_interval_s)
        silence_counts = time.monotonic() - reachable_since >= settings.heartbeat_timeout_s
        try:
            await asyncio.to_thread(
                _sweep_once,
                settings,
                session_factory,
                run_queue,
                take_silent_runs=silence_counts,
                cache=cache,
            )
        except BrokerUnavailable as error:  # the unsent runs wait for the next sweep
            log.warning("runs not sent: the broker is unavailable (%s)", error)
        except Exception as error:  # noqa: BLE001 - a failed sweep is retried at the next interval
            if not database_unavailable(error):
                log.exception("stale-run sweep failed")
                continue
            reachable_since = time.monotonic()
            log.warning(
                "stale-run sweep skipped: the database is unavailable (%s)", first_line(error)
            )


def _sweep_once(
    settings: Settings,
    session_factory: sessionmaker[Session],
    run_queue: RunQueue,
    *,
    take_silent_runs: bool = True,
    cache: AnalysisCache | None = None,
) -> None:
    count, crashed = 0, list[int]()
    with session_factory() as session:
        # Before the requeue: the runs it requeues are sent by their own callbacks.
        unsent = runs_service.send_unsent_runs(session, run_queue)
        if take_silent_runs:
            count = runs_service.requeue_stale_runs(
                session, run_queue, heartbeat_timeout_s=settings.heartbeat_timeout_s
            )
            crashed = runs_service.mark_crashed_loop_runs(
                session, heartbeat_timeout_s=settings.heartbeat_timeout_s
            )
        session.commit()
        for callback in pop_after_commit(session):
            callback()
    if cache is not None:  # after the statuses above: a run crashed just now gets its numbers
        with session_factory() as session:
            listing.backfill_headlines(session, cache)
            session.commit()
    if unsent:
        log.warning("sent %d queued run(s) that the broker never got", unsent)
    if count:
        log.warning("requeued %d run(s) whose worker stopped sending heartbeats", count)
    if crashed:
        log.warning("loop runs %s crashed: their loops stopped sending heartbeats", crashed)


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: sessionmaker[Session] | None = None,
    run_queue: RunQueue | None = None,
) -> FastAPI:
    """Build the app. Tests may pass a session factory bound to a rolled-back connection."""
    settings = settings or get_settings()
    engine: Engine | None = None
    if session_factory is None:
        engine = create_db_engine(settings.resolved_database_url)
        session_factory = create_session_factory(engine)
    queue = run_queue or RunQueue(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sweeper = None
        if settings.stale_sweep_interval_s > 0:
            sweeper = asyncio.create_task(
                _sweep_stale_runs(settings, session_factory, queue, _app.state.analysis_cache)
            )
        yield
        if sweeper is not None:
            sweeper.cancel()
        if run_queue is None:
            queue.close()
        if engine is not None:
            engine.dispose()

    app = FastAPI(
        title="Gapwatch",
        version="0.1.0",
        summary="Continual-learning experiment tracking that shows the stability gap.",
        lifespan=lifespan,
        # Every body is limited before it is read (413): run specs and other JSON bodies to
        # this; the ingest routes name larger limits of their own.
        max_body_size=DEFAULT_BODY_LIMIT,
        # /docs is served by install_docs, with its assets from this server.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.run_queue = queue
    app.state.analysis_cache = AnalysisCache()
    app.state.submit_limiter = RateLimiter(settings.submit_rate_per_minute)
    app.state.sign_in_limiter = RateLimiter(settings.sign_in_rate_per_minute)
    install_error_handlers(app)
    install_error_answers(app)
    # Who is calling is known before routing and before any body is read; the edge (host
    # check, headers, CORS) wraps even that, so it is added last (outermost).
    app.add_middleware(
        AuthenticationMiddleware,
        session_factory=lambda: session_factory,
        worker_secret=lambda: settings.worker_token.get_secret_value(),
    )
    install_edge(app, settings)

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(auth_router)
    api.include_router(keys_router)
    api.include_router(projects_router)
    api.include_router(users_router)
    api.include_router(runs_router)
    api.include_router(metrics_router)
    api.include_router(export_router)
    api.include_router(summaries_router)
    api.include_router(definitions_router)
    api.include_router(compare_router)
    api.include_router(events_router)
    api.include_router(specs_router)
    api.include_router(live_router)
    api.include_router(figures_router)
    api.include_router(sweeps_router)
    api.include_router(datasets_router)
    app.include_router(api)
    install_docs(app)

    @app.get("/health", response_model=Health, operation_id="health", tags=["health"])
    def health() -> Health:
        """Liveness and database reachability."""
        with session_factory() as session:
            session.execute(text("SELECT 1"))
        return Health(status="ok", database=session_factory.kw["bind"].dialect.name)

    # Last: its catch-all GET must not shadow any API route.
    mount_dashboard(app, settings.resolved_frontend_dir)
    return app
