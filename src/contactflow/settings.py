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
    page_limit_max: int = 100


@lru_cache
def get_settings() -> Settings:
    return Settings()
