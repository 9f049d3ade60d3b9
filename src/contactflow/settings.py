"""The one place configuration is read: environment variables prefixed CONTACTFLOW_."""

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONTACTFLOW_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite+aiosqlite:///{Path('contactflow.db').resolve()}"
    # Public address of this server, used to build ready-to-call URLs (nextPageUrl).
    base_url: str = "http://127.0.0.1:8000"
    default_phone_region: str = "US"
    max_body_bytes: int = 1024 * 1024
    idempotency_ttl_hours: int = 24
    # Fernet keys for secrets at rest, newest first; without them a generated key is kept in
    # secret_key_file (never in the database).
    secret_keys: list[str] = []
    secret_key_file: str = "contactflow.key"  # noqa: S105 - a file name
    # Behind a TLS-terminating proxy: believe the address it appends to X-Forwarded-For.
    trust_proxy: bool = False

    # Development mode: webhook endpoints may use plain http.
    dev_mode: bool = False
    # Hosts or CIDR networks webhooks may reach although they are loopback or private.
    webhook_allowed_networks: list[str] = []
    webhook_timeout_seconds: float = 15.0
    # Seconds to wait before each retry after a failed attempt (the first is immediate).
    webhook_retry_delays: list[float] = [5, 300, 1800, 7200, 18000, 36000, 36000]
    webhook_disable_after_hours: float = 120
    webhook_secret_overlap_hours: float = 24
    # Work items: how long a claim holds, how often idle workers look, how much per round.
    lease_seconds: float = 30
    worker_poll_seconds: float = 0.5
    delivery_batch_size: int = 64
    # Delivery loops per process: each claims a batch and sends it concurrently.
    delivery_loops: int = 2
    # `serve` runs the workers in its own process; set false when `contactflow worker` runs.
    embedded_workers: bool = True


@lru_cache
def get_settings() -> Settings:
    return Settings()
