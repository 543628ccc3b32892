"""Configuration, read once at start-up.

Every setting comes from the environment with the ``LEADFLOW_`` prefix or from a ``.env`` file. With no settings at
all the service runs on the embedded default: a SQLite file and a generated secret key under ``DATA_DIR``, an
in-process cache and queue. List settings accept a comma-separated string or a JSON list.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import time
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from leadflow.platform.money import check_share
from leadflow.platform.timezones import check_zone

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MIN_SECRET_LENGTH = 32
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?/?")
WEAK_SECRETS = {"secret", "changeme", "change-me", "password", "leadflow", "development", "dev", "test"}


class Environment(StrEnum):
    development = "development"
    production = "production"


def _split_list(value: Any) -> Any:
    """Accept ``a,b`` or ``["a", "b"]`` for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEADFLOW_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Environment = Environment.development
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("./data")

    database_url: str | None = None
    database_replica_url: str | None = None
    redis_url: str | None = None
    redis_sentinels: Annotated[list[str], NoDecode] = []
    redis_sentinel_master: str | None = None
    redis_prefix: str = "leadflow"

    secret_key: str | None = None
    timezone: str = "Europe/Moscow"
    company_share: Decimal = Decimal("0.50")

    cors_origins: Annotated[list[str], NoDecode] = []
    trusted_proxies: Annotated[list[IPNetwork], NoDecode] = []

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    db_pool_timeout: float = Field(default=30, gt=0)
    db_pool_recycle: int = Field(default=3600, ge=-1)
    db_echo: bool = False
    # PostgreSQL only (SQLite has none of these): how long a new connection may take to open, and the server-side
    # limits of every session of the service's processes (0: no limit). See docs/operations.md, "Faults".
    db_connect_timeout_s: float = Field(default=5, gt=0)
    db_statement_timeout_ms: int = Field(default=10_000, ge=0)
    db_lock_timeout_ms: int = Field(default=5_000, ge=0)
    db_idle_in_transaction_timeout_ms: int = Field(default=60_000, ge=0)

    rate_limit_per_minute: int = Field(default=100, ge=1)
    login_rate_limit_per_minute: int = Field(default=30, ge=1)
    webhook_rate_limit_per_minute: int = Field(default=3000, ge=1)
    rate_limit_exempt_logins: Annotated[list[str], NoDecode] = []
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_s: int = Field(default=15 * 60, ge=1)
    login_lockout_s: int = Field(default=30 * 60, ge=1)
    login_busy_wait_s: float = Field(default=5, ge=0, le=60)  # a sign-in waits this long for a free attempt

    max_request_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    idempotency_ttl_s: int = Field(default=24 * 3600, ge=3600)

    access_token_ttl_s: int = Field(default=15 * 60, ge=30)
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, ge=60)
    cookie_secure: bool | None = None
    password_hash_cheap: bool = False
    require_2fa_for_admins: bool = False

    storage_url: str | None = None
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)  # images and documents
    audio_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)  # recordings
    housekeeping_interval_s: int = Field(default=3600, ge=1)
    docs_enabled: bool = True
    log_level: str = "INFO"
    log_json: bool = True

    metrics_token: str | None = None
    metrics_allow: Annotated[list[IPNetwork], NoDecode] = [
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
    ]
    cache_ttl_s: int = Field(default=300, ge=1)  # reports and business metrics
    business_metrics_interval_s: int = Field(default=60, ge=5)  # the business gauges of /metrics
    worker_metrics_host: str = "127.0.0.1"  # where `leadflow worker` serves its own Prometheus metrics
    worker_metrics_port: int = Field(default=9101, ge=0, le=65535)  # 0: not served
    mango_api_key: str | None = None
    mango_api_salt: str | None = None
    imap_host: str | None = None
    imap_port: int = 993
    imap_user: str | None = None
    imap_password: str | None = None
    imap_ssl: bool = True
    imap_folder: str = "INBOX"
    recordings_interval_s: int = Field(default=300, ge=1)
    recordings_timezone: str = "Europe/Moscow"
    telegram_bot_token: str | None = None

    @field_validator("cors_origins", "redis_sentinels", "rate_limit_exempt_logins", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"CORS origin {origin!r} is not scheme://host[:port]; list each origin explicitly ('*' is refused, "
                    "credentials are allowed for the listed origins only)"
                )
        return [origin.rstrip("/") for origin in value]

    @field_validator("trusted_proxies", "metrics_allow", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        items = _split_list(value)
        return [ipaddress.ip_network(str(item), strict=False) for item in items]

    @field_validator("storage_url")
    @classmethod
    def _storage(cls, value: str | None) -> str | None:
        if value and not value.startswith(("file:///", "s3://")):
            raise ValueError("STORAGE_URL is file:///absolute/path or s3://[key:secret@]bucket/prefix?endpoint_url=...")
        return value or None

    @field_validator("timezone", "recordings_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("company_share")
    @classmethod
    def _share(cls, value: Decimal) -> Decimal:
        return check_share(value)

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.environment is Environment.production:
            problem = secret_problem(self.secret_key)
            if problem:
                raise ValueError(f"refusing to start in production: {problem}")
            if self.rate_limit_exempt_logins:
                raise ValueError("rate_limit_exempt_logins is for benchmarks and is refused in production")
            if self.password_hash_cheap:
                raise ValueError("password_hash_cheap is for tests and is refused in production")
        return self

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.production

    @property
    def redis_configured(self) -> bool:
        """Redis is used: a plain URL, or Sentinels together with the master's name."""
        return bool(self.redis_url or (self.redis_sentinels and self.redis_sentinel_master))

    @property
    def secure_cookies(self) -> bool:
        return self.is_production if self.cookie_secure is None else self.cookie_secure

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'leadflow.db').resolve()}"

    @property
    def uses_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def effective_secret_key(self) -> str:
        """The configured key, or (embedded default) one generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # Created exclusively and private from the first byte: of several processes starting at once, one writes
            # the key and all of them read the same one.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            for _ in range(50):
                key = path.read_text(encoding="utf-8").strip()
                if key:
                    return key
                time.sleep(0.01)  # the writer is between creating and writing
            raise RuntimeError(f"{path} is empty; delete it to generate a new key") from None
        key = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key)
        return key


def secret_problem(key: str | None) -> str | None:
    """Why a secret key is not good enough for production, or None."""
    if not key:
        return "LEADFLOW_SECRET_KEY is not set"
    if len(key) < MIN_SECRET_LENGTH:
        return f"LEADFLOW_SECRET_KEY is shorter than {MIN_SECRET_LENGTH} characters"
    if key.lower() in WEAK_SECRETS or len(set(key)) < 8:
        return "LEADFLOW_SECRET_KEY is a well-known or low-entropy value"
    return None


@lru_cache
def get_settings() -> Settings:
    return Settings()
