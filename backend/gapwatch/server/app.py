"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from gapwatch.config import Settings, get_settings
from gapwatch.queue import RunQueue
from gapwatch.server.compare.endpoints import router as compare_router
from gapwatch.server.db import create_db_engine, create_session_factory
from gapwatch.server.errors import install_error_handlers
from gapwatch.server.events.endpoints import router as events_router
from gapwatch.server.metrics.endpoints import export_router
from gapwatch.server.metrics.endpoints import router as metrics_router
from gapwatch.server.runs.endpoints import router as runs_router
from gapwatch.server.summaries.endpoints import router as summaries_router

API_PREFIX = "/api/v1"


class Health(BaseModel):
    status: str
    database: str


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
        yield
        if run_queue is None:
            queue.close()
        if engine is not None:
            engine.dispose()

    app = FastAPI(
        title="Gapwatch",
        version="0.1.0",
        summary="Continual-learning experiment tracking that shows the stability gap.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.run_queue = queue
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(runs_router)
    api.include_router(metrics_router)
    api.include_router(export_router)
    api.include_router(summaries_router)
    api.include_router(compare_router)
    api.include_router(events_router)
    app.include_router(api)

    @app.get("/health", response_model=Health, operation_id="health", tags=["health"])
    def health() -> Health:
        """Liveness and database reachability."""
        with session_factory() as session:
            session.execute(text("SELECT 1"))
        return Health(status="ok", database=session_factory.kw["bind"].dialect.name)

    return app
