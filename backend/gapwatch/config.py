"""Settings shared by the server, the worker and the CLI: one pydantic-settings object.

Every value comes from a `GAPWATCH_*` environment variable (or `.env`). The defaults are the
embedded mode: a SQLite file and Celery's filesystem broker under the data directory, so that
`make up` needs no other server. Pointing `GAPWATCH_DATABASE_URL` at PostgreSQL and
`GAPWATCH_BROKER_URL` at Redis switches to the self-hosted mode with the same code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_WORKER_TOKEN = "dev-worker-token-change-me"
FILESYSTEM_BROKER = "filesystem://"


class Settings(BaseSettings):
    """Gapwatch configuration; see `.env.example` for every variable."""

    model_config = SettingsConfigDict(env_prefix="GAPWATCH_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Field(Path(".gapwatch"), description="Embedded database, broker, artifacts.")
    database_url: str | None = Field(None, description="Default: SQLite file in data_dir.")
    broker_url: str = Field(FILESYSTEM_BROKER, description="Celery broker; redis://... to scale.")
    queue: str = Field("gapwatch", description="Celery queue that runs are sent to.")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_url: str | None = Field(
        None, description="Where workers reach the API. Default: host:port."
    )
    worker_token: SecretStr = Field(
        SecretStr(DEVELOPMENT_WORKER_TOKEN),
        description="Shared secret with which workers claim runs; each claim gets a run token.",
    )
    heartbeat_timeout_s: float = Field(
        120.0, gt=0, description="A running run silent this long may be claimed again."
    )
    stale_sweep_interval_s: float = Field(
        30.0,
        ge=0,
        description="How often the API sends running runs with a stale heartbeat back to the "
        "queue (their worker died); 0 disables the sweep.",
    )
    broker_visibility_timeout_s: float = Field(
        6 * 3600.0,
        gt=0,
        description="Redis: an unacknowledged run message is delivered again after this long.",
    )
    frontend_dir: Path | None = Field(
        None,
        description="The built dashboard (index.html and assets/). Default: frontend/dist of a "
        "source checkout.",
    )

    @model_validator(mode="after")
    def _no_placeholder_secret_in_production(self) -> Settings:
        # A known default token would let anyone on the network write into any run.
        if (
            self.environment == "production"
            and self.worker_token.get_secret_value() == DEVELOPMENT_WORKER_TOKEN
        ):
            raise ValueError("set GAPWATCH_WORKER_TOKEN to a secret in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gapwatch.db').resolve()}"

    @property
    def resolved_api_url(self) -> str:
        """Base URL of the REST API as workers should call it."""
        if self.api_url:
            return self.api_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def broker_dir(self) -> Path:
        """Folder of the filesystem broker's messages (embedded mode only)."""
        return (self.data_dir / "broker").resolve()

    @property
    def resolved_frontend_dir(self) -> Path:
        """Where the built dashboard is; it may not exist (the API then answers without it)."""
        if self.frontend_dir is not None:
            return self.frontend_dir.resolve()
        # backend/gapwatch/config.py -> the checkout's frontend/dist (an editable install).
        return (Path(__file__).resolve().parents[2] / "frontend" / "dist").resolve()

    @property
    def artifacts_dir(self) -> Path:
        """Folder of checkpoints and other run artifacts."""
        return (self.data_dir / "artifacts").resolve()


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
