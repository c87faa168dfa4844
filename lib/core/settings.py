"""Settings from environment variables, with `.streamlit/secrets.toml` as an alternative source.

Environment variables win over secrets.toml. No LITELLM_BASE_URL means demo mode.
An invalid setting raises `SettingsError` with one line naming the variable.
"""

from __future__ import annotations

import base64
import binascii
import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lib.core.errors import ConsoleError

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # lib/core/settings.py -> the project
DATA_DIR = PROJECT_ROOT / "data"
DEMO_HISTORY_DAYS = 120  # the days of activity demo mode's LiteLLM holds (lib/litellm/demo.py)


class SettingsError(ConsoleError, ValueError):
    """A setting is missing or invalid; the message names the variable."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    LITELLM_BASE_URL: str | None = None
    LITELLM_API_KEY: str | None = None
    LITELLM_TIMEOUT_S: float = Field(30.0, gt=0, le=600)
    DATABASE_URL: str = f"sqlite:///{DATA_DIR / 'app.db'}"
    DUCKDB_PATH: str = str(DATA_DIR / "usage.duckdb")
    REFRESH_INTERVAL_MINUTES: int = Field(5, ge=1, le=1440)
    MODEL_SYNC_INTERVAL_MINUTES: int = Field(60, ge=1, le=10080)
    BACKFILL_DAYS: int = Field(90, ge=0, le=3650)  # demo mode: DEMO_HISTORY_DAYS (see _demo_backfills_all)
    BACKFILL_CONCURRENCY: int = Field(4, ge=1, le=16)
    COMPLETE_GRACE_MINUTES: int = Field(60, ge=0, le=1440)
    ACTIVITY_PAGE_SIZE: int = Field(1000, ge=1, le=1000)
    APP_SECRET_KEY: str | None = None
    CONSOLE_ENCRYPTION_KEY: str | None = None  # Fernet key of the stored provider keys (lib.providers.crypto)
    COOKIE_SECURE: Literal["auto", "true", "false"] = "auto"  # auto: Secure when the browser's page is https
    ADMIN_USERNAME: str | None = None
    ADMIN_PASSWORD: str | None = None
    DEMO_SEED: int = 42
    BACKGROUND_SERVICES: bool = True  # false in tests that fill the store themselves
    METRICS_PORT: int = Field(9108, ge=0, le=65535)  # the console's /healthz, /readyz, /metrics; 0 = not served
    KEYS_CACHE_MINUTES: int = Field(15, ge=1, le=1440)  # the keys page's snapshot of LiteLLM's keys is kept this long
    LOGS_EXPORT_MAX_ROWS: int = Field(100_000, ge=1_000, le=1_000_000)
    # budget alerts' channels (lib.budgets.notify); None: that channel is off
    ALERT_WEBHOOK_URL: str | None = None  # Slack-compatible incoming webhook: JSON {"text": ..., ...}
    SMTP_HOST: str | None = None
    SMTP_PORT: int = Field(587, ge=1, le=65535)
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_FROM: str | None = None
    ALERT_EMAIL_TO: str | None = None  # comma-separated addresses

    @model_validator(mode="before")
    @classmethod
    def _demo_backfills_all(cls, values):
        """Demo mode loads its whole history unless told otherwise, so "All time" is all the demo has."""
        if isinstance(values, dict) and "BACKFILL_DAYS" not in values:
            if not str(values.get("LITELLM_BASE_URL") or "").strip():
                values = {**values, "BACKFILL_DAYS": DEMO_HISTORY_DAYS}
        return values

    @field_validator("LITELLM_BASE_URL")
    @classmethod
    def _base_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip().rstrip("/")
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @field_validator("CONSOLE_ENCRYPTION_KEY")
    @classmethod
    def _encryption_key(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        try:
            key = base64.urlsafe_b64decode(v.strip().encode())
        except (ValueError, binascii.Error):
            key = b""
        if len(key) != 32:
            raise ValueError(
                "must be a Fernet key (32 bytes, url-safe base64); make one with "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            )
        return v.strip()

    @field_validator("COOKIE_SECURE", mode="before")
    @classmethod
    def _cookie_secure(cls, v):
        if isinstance(v, bool):  # secrets.toml may say true/false unquoted
            return str(v).lower()
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, v: str) -> str:
        if not v.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        if v.startswith("postgresql://") or v.startswith("postgres://"):
            # psycopg 3 is the one PostgreSQL driver we ship
            v = "postgresql+psycopg://" + v.split("://", 1)[1]
        return v

    @property
    def demo_mode(self) -> bool:
        return self.LITELLM_BASE_URL is None

    @property
    def store_dir(self) -> Path:
        """Folder of the usage store: day partitions beside the DUCKDB_PATH name."""
        p = Path(self.DUCKDB_PATH)
        return p.with_suffix("") if p.suffix else p.with_name(p.name + ".store")


SECRETS_TOML = PROJECT_ROOT / ".streamlit" / "secrets.toml"
_SECRET_NAMES = {"LITELLM_API_KEY", "APP_SECRET_KEY", "ADMIN_PASSWORD", "DATABASE_URL", "CONSOLE_ENCRYPTION_KEY"}


def _read_secrets_toml(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path.name}: not valid TOML ({exc})") from exc
    return {k: v for k, v in data.items() if not isinstance(v, dict)}


def load_settings(
    env: dict[str, str] | None = None, secrets_path: Path | None = SECRETS_TOML, secrets: dict | None = None
) -> Settings:
    """Build settings from secrets.toml (or `secrets`, the same file as Streamlit read it) overlaid by the
    environment."""
    env = dict(os.environ) if env is None else env
    names = set(Settings.model_fields)
    if secrets is not None:
        raw = {k: v for k, v in secrets.items() if not isinstance(v, dict) and v != ""}
    else:
        raw = _read_secrets_toml(secrets_path) if secrets_path else {}
    raw.update({k: v for k, v in env.items() if k in names and v != ""})
    raw = {k: v for k, v in raw.items() if k in names}
    try:
        return Settings(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "settings"
        shown = "" if name in _SECRET_NAMES else f" (got {raw.get(name)!r})"
        raise SettingsError(f"{name}: {err['msg']}{shown}") from None
