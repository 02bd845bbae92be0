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
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_WORKER_TOKEN = "dev-worker-token-change-me"
FILESYSTEM_BROKER = "filesystem://"
# Worker secrets shorter than this are refused in production: 32 random bytes is what
# `openssl rand -hex 32` or `secrets.token_urlsafe(32)` gives.
MIN_WORKER_SECRET_BYTES = 32
# Values that look like a secret but are somebody's example; refused in production.
PLACEHOLDER_SECRETS = frozenset(
    {DEVELOPMENT_WORKER_TOKEN, "change-me", "changeme", "secret", "password", "replace-me"}
)
# The largest GAPWATCH_MAX_DATASET_BYTES: the upload route's own body limit is fixed when the
# routes are declared, so the setting is enforced below it while the body streams.
MAX_DATASET_BYTES_CEILING = 2**40


def split_list(value: str) -> list[str]:
    """A comma-separated setting as a list of its non-empty, stripped items."""
    return [item.strip() for item in value.split(",") if item.strip()]


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
        "queue (their worker died), and queued runs whose message never reached the broker; "
        "0 disables the sweep.",
    )
    max_attempts: int = Field(
        3,
        ge=1,
        description="A run claimed this many times (each time its worker stopped: out of "
        "memory?) is failed instead of being run again; retrying it gives it as many again.",
    )
    worker_outage_s: float = Field(
        300.0,
        gt=0,
        description="How long a worker rides out an unreachable API or database (retries with "
        "backoff, points kept) before it leaves the run to be resumed from its checkpoint.",
    )
    broker_visibility_timeout_s: float = Field(
        6 * 3600.0,
        gt=0,
        description="Redis: an unacknowledged run message is delivered again after this long.",
    )
    public_url: str = Field(
        "",
        description="The URL people open (https://gapwatch.lab.example): sign-in links are "
        "printed with it, and its host is allowed. Default: http://host:port.",
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated Host header values the API answers (a leading '*.' "
        "allows subdomains; '*' allows any). Always allowed: localhost, 127.0.0.1, ::1, the "
        "host of public_url and api_url, and `host` unless it is a wildcard address.",
    )
    cors_origins: str = Field(
        "",
        description="Comma-separated origins allowed to call the API from another site's "
        "pages (CORS). Empty: none.",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto the API believes (the client's address counts for sign-in limits; "
        "the scheme for Secure cookies). '*' trusts any: only behind a proxy that sets them.",
    )
    session_ttl_s: float = Field(
        14 * 24 * 3600.0, gt=0, description="A dashboard sign-in lasts this long."
    )
    login_link_ttl_s: float = Field(
        15 * 60.0,
        gt=0,
        le=7 * 24 * 3600.0,
        description="A one-time sign-in link is valid this long.",
    )
    secure_cookies: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Mark the session cookie Secure: 'auto' when the request or public_url is "
        "https.",
    )
    sign_in_rate_per_minute: int = Field(
        10, ge=0, description="Failed sign-ins allowed per user name and per address a minute."
    )
    submit_rate_per_minute: int = Field(
        120, ge=0, description="Runs one caller may submit a minute (0: no limit)."
    )
    max_streams_per_user: int = Field(
        20,
        ge=1,
        description="Live streams (GET /runs/{id}/live) one user may hold open in one API "
        "process; more are a 429 with Retry-After.",
    )
    max_streams: int = Field(
        500,
        ge=1,
        description="Live streams one API process holds open in all; more are a 429.",
    )
    max_parameters: int = Field(
        200_000_000, ge=1, description="A run spec whose model has more parameters is refused."
    )
    max_eval_rows: int = Field(
        2_000_000_000,
        ge=1,
        description="A run spec planning more (task, evaluation) accuracy values is refused.",
    )
    max_memory_bytes: int = Field(
        32 * 2**30,
        ge=1,
        description="A run spec whose estimated worker memory (data, model, optimizer, replay "
        "buffer) is larger is refused.",
    )
    max_dataset_bytes: int = Field(
        2**30,
        ge=1,
        le=MAX_DATASET_BYTES_CEILING,
        description="An uploaded dataset (POST /api/v1/datasets) larger than this, as sent or "
        "as its arrays take uncompressed, is refused with a 413.",
    )
    frontend_dir: Path | None = Field(
        None,
        description="The built dashboard (index.html and assets/). Default: frontend/dist of a "
        "source checkout.",
    )

    @model_validator(mode="after")
    def _no_weak_secret_in_production(self) -> Settings:
        # A known or short worker secret would let anyone on the network claim runs.
        if self.environment != "production":
            return self
        secret = self.worker_token.get_secret_value()
        if secret.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("set GAPWATCH_WORKER_TOKEN to a secret in production")
        if not secret.isascii() or len(secret.encode()) < MIN_WORKER_SECRET_BYTES:
            raise ValueError(
                f"GAPWATCH_WORKER_TOKEN must be at least {MIN_WORKER_SECRET_BYTES} ASCII "
                "characters in production (`openssl rand -hex 32`)"
            )
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
    def resolved_public_url(self) -> str:
        """Where people open the dashboard: public_url, else the API's own address."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def resolved_allowed_hosts(self) -> list[str]:
        """Host header values answered (without ports); see `allowed_hosts`."""
        hosts = ["localhost", "127.0.0.1", "::1", *split_list(self.allowed_hosts)]
        if self.host not in ("0.0.0.0", "::", ""):
            hosts.append(self.host)
        for url in (self.public_url, self.api_url):
            if url and urlsplit(url).hostname:
                hosts.append(urlsplit(url).hostname or "")
        return list(dict.fromkeys(h.lower() for h in hosts if h))

    @property
    def resolved_cors_origins(self) -> list[str]:
        return split_list(self.cors_origins)

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
