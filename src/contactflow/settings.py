"""The one place configuration is read: environment variables prefixed CONTACTFLOW_."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    # Rate limits per app per location (upstream's numbers): a burst of requests per window
    # of seconds, and a daily budget.
    rate_limit_burst: int = 100
    rate_limit_burst_seconds: int = 10
    rate_limit_daily: int = 200_000
    # Counters live in this Redis when set (every API process then shares one budget, and every
    # worker one budget per connection and remote location), else in the process's memory.
    # The prefix keeps several installations apart in one Redis.
    redis_url: str | None = None
    rate_limit_key_prefix: str = "contactflow"

    # What flows may send to each remote location of a connection (HighLevel's published
    # limits per app per location): a burst per window of seconds, and a daily budget.
    remote_rate_burst: Annotated[int, Field(gt=0)] = 100
    remote_rate_burst_seconds: Annotated[float, Field(gt=0)] = 10
    remote_rate_daily: Annotated[int, Field(gt=0)] = 200_000

    # Development mode: webhook endpoints may use plain http.
    dev_mode: bool = False
    # Hosts or CIDR networks webhooks may reach although they are loopback or private.
    webhook_allowed_networks: list[str] = []
    webhook_timeout_seconds: float = 15.0
    # Seconds to wait before each retry after a failed attempt (the first is immediate).
    webhook_retry_delays: list[float] = [5, 300, 1800, 7200, 18000, 36000, 36000]
    webhook_disable_after_hours: float = 120
    webhook_secret_overlap_hours: float = 24
    # Work items: how long a claim holds, how much per round, and how often an idle loop
    # looks for work that no wake-up told it of: another process's commits on SQLite (on
    # PostgreSQL, NOTIFY wakes them at once), a crashed worker's leases running out.
    lease_seconds: float = 30
    worker_poll_seconds: float = 5.0
    delivery_batch_size: int = 64
    # Delivery loops per process: each claims a batch and sends it concurrently.
    delivery_loops: int = 2
    # `serve` runs the workers in its own process; set false when `contactflow worker` runs.
    embedded_workers: bool = True
    # On SIGTERM: how long requests in flight and the workers' current steps may take to
    # finish. Past it, the steps are cancelled and their leases released for another process.
    shutdown_grace_seconds: Annotated[int, Field(ge=0)] = 20
    # The groups of loops a worker (embedded or `contactflow worker`) runs, comma-separated
    # (webhooks, flows, mail, sync, retention); empty runs them all. `contactflow worker
    # --only` sets it.
    worker_groups: Annotated[list[str], NoDecode] = []
    # A worker is not ready (/readyz) while one of its loops has not come round for this long:
    # a step stuck past every timeout, or a loop that stopped.
    worker_stale_seconds: Annotated[float, Field(gt=0)] = 120
    # Operations: `json` makes every log line one JSON object (time, level, logger, message,
    # trace and location ids); `text` is for a terminal.
    log_format: Literal["text", "json"] = "text"
    # Tracing (docs/operations.md, "Tracing"; ADR 0031): on when an OTLP/HTTP endpoint is set,
    # by OpenTelemetry's own variables (no CONTACTFLOW_ prefix); OTEL_SDK_DISABLED=true or
    # OTEL_TRACES_EXPORTER=none keep it off. The SDK reads the other OTEL_ variables itself
    # (OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_...).
    otel_exporter_otlp_endpoint: str = Field("", validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    otel_exporter_otlp_traces_endpoint: str = Field(
        "", validation_alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    otel_exporter_otlp_protocol: str = Field("", validation_alias="OTEL_EXPORTER_OTLP_PROTOCOL")
    otel_exporter_otlp_traces_protocol: str = Field(
        "", validation_alias="OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    )
    otel_traces_exporter: str = Field("otlp", validation_alias="OTEL_TRACES_EXPORTER")
    otel_sdk_disabled: bool = Field(False, validation_alias="OTEL_SDK_DISABLED")

    # OAuth: access tokens live a day and refresh tokens a year, as HighLevel's do; a refresh
    # token is single-use (each refresh returns a new one).
    oauth_access_token_seconds: int = 24 * 3600
    oauth_refresh_token_seconds: int = 365 * 24 * 3600

    # Mailsuite. SMTP hosts that resolve to loopback or private addresses are refused unless
    # listed here (hosts or CIDRs), as webhook URLs are: a local relay must be allowed.
    smtp_allowed_networks: list[str] = []
    smtp_timeout_seconds: float = 30.0
    # Seconds before each retry after a temporary SMTP failure (4xx, connection errors).
    mailsuite_retry_delays: list[float] = [60, 300, 1800, 7200, 21600]
    mailsuite_batch_size: int = 100
    # Syncs: records a backfill batch (one transaction) links, events a change batch reads.
    sync_batch_size: Annotated[int, Field(ge=1, le=1000)] = 100
    # How long a sync whose remote account failed waits first (doubled after each failure
    # in a row, up to ten minutes).
    sync_remote_backoff_seconds: Annotated[float, Field(gt=0, le=600)] = 5
    mailsuite_send_loops: int = 2
    # Opens and clicks this soon after sending are pre-fetches, not a person.
    mailsuite_machine_seconds: float = 2.0

    # Flows: finished runs (and their step runs) older than this many days are deleted.
    flow_run_retention_days: Annotated[float, Field(gt=0)] = 30
    # Retention (docs/operations.md): finished webhook deliveries with their attempts, and
    # what connections brought in (receipts), are deleted this many days after.
    webhook_delivery_retention_days: Annotated[float, Field(gt=0)] = 30
    connection_receipt_retention_days: Annotated[float, Field(gt=0)] = 30
    # Events are removed from the front of each location's log once this old, read by every
    # consumer and delivered; into JSON lines files in this folder when set (else dropped).
    event_retention_days: Annotated[float, Field(gt=0)] = 30
    event_archive_dir: Path | None = None
    # How often the retention loop looks for what is past its policy.
    retention_sweep_seconds: Annotated[float, Field(gt=0)] = 3600
    # Incoming webhooks are refused (503, Retry-After) while this many runs or more are due
    # and wait to run (GET /flows/backlog shows them).
    flow_backlog_limit: Annotated[int, Field(gt=0)] = 10_000

    @property
    def traces_endpoint(self) -> str | None:
        """Where spans go (OTLP/HTTP); None leaves tracing off. The traces variable is the
        URL as it is; the general one is a base that `/v1/traces` is added to, as the
        OpenTelemetry specification has exporters build it."""
        if self.otel_sdk_disabled or self.otel_traces_exporter.strip().lower() == "none":
            return None
        if self.otel_exporter_otlp_traces_endpoint:
            return self.otel_exporter_otlp_traces_endpoint
        if self.otel_exporter_otlp_endpoint:
            return f"{self.otel_exporter_otlp_endpoint.removesuffix('/')}/v1/traces"
        return None

    @field_validator("worker_groups", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return comma_separated(value) if isinstance(value, str) else value


def comma_separated(value: str) -> list[str]:
    """The names in "a, b,c"."""
    return [name.strip() for name in value.split(",") if name.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
