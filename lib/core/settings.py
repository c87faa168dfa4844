"""Settings from environment variables, with `.streamlit/secrets.toml` as an alternative source.

Environment variables win over secrets.toml. No LITELLM_BASE_URL means demo mode.
An invalid setting raises `SettingsError` with one line naming the variable.
"""

from __future__ import annotations

import base64
import binascii
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from lib.core.errors import ConsoleError

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # lib/core/settings.py -> the project
DATA_DIR = PROJECT_ROOT / "data"
DEMO_HISTORY_DAYS = 120  # the days of activity demo mode's LiteLLM holds (lib/litellm/demo.py)


class SettingsError(ConsoleError, ValueError):
    """A setting is missing or invalid; the message names the variable."""


# The settings' groups, in the order the Settings page and the README show them.
GROUPS = (
    "LiteLLM connection",
    "Data & refresh",
    "Models sync",
    "Routing",
    "Security & logins",
    "Budgets & alerts",
    "Notifications",
    "Metrics",
)


def setting(default, group: str, help: str, *, editable=False, secret=False, default_doc=None, **constraints):
    """A setting's field and its description: the one place the page, validation and the README table read.

    `editable`: takes effect without a restart, so an admin may save it in the console (lib.console_settings);
    `secret`: never shown, logged or audited; `default_doc`: the README's default where the value alone misleads.
    """
    assert group in GROUPS, group
    extra = {"group": group, "help": help, "editable": editable, "secret": secret, "default_doc": default_doc}
    return Field(default, json_schema_extra=extra, **constraints)


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    LITELLM_BASE_URL: str | None = setting(
        None,
        "LiteLLM connection",
        "the proxy, e.g. `https://litellm.example.com`",
        default_doc="*(unset = demo mode)*",
    )
    LITELLM_API_KEY: str | None = setting(
        None, "LiteLLM connection", "master key or a `proxy_admin_viewer` key", secret=True
    )
    LITELLM_TIMEOUT_S: float = setting(
        30.0,
        "LiteLLM connection",
        "per request; timeouts and 5xx are retried twice with backoff",
        default_doc="30",
        gt=0,
        le=600,
    )
    LITELLM_DATABASE_URL: str | None = setting(
        None,
        "LiteLLM connection",
        "LiteLLM's own PostgreSQL (`postgresql://…`, a read-only role or a replica; needs `LITELLM_BASE_URL` too): "
        "backfill, refresh and rebuild read its daily table with SQL instead of `/user/daily/activity` (20x faster "
        "in the benchmark); see [Reading LiteLLM's database](#reading-litellms-database)",
        secret=True,  # may hold the database's password
        default_doc="*(unset = read the API)*",
    )
    DATABASE_URL: str = setting(
        f"sqlite:///{DATA_DIR / 'app.db'}",
        "Data & refresh",
        "app database; `postgresql://…` uses psycopg 3",
        secret=True,  # may hold the database's password
        default_doc="`sqlite:///data/app.db`",
    )
    DUCKDB_PATH: str = setting(
        str(DATA_DIR / "usage.duckdb"),
        "Data & refresh",
        "usage store location (a folder `data/usage/` of day partitions)",
        default_doc="`data/usage.duckdb`",
    )
    REFRESH_INTERVAL_MINUTES: int = setting(
        5, "Data & refresh", "how often today is re-fetched", editable=True, ge=1, le=1440
    )
    MODEL_SYNC_INTERVAL_MINUTES: int = setting(
        60,
        "Models sync",
        "how often the models catalogue is synced from LiteLLM's `/model/info` (also at start)",
        editable=True,
        ge=1,
        le=10080,
    )
    ROUTING_DRIFT_INTERVAL_MINUTES: int = setting(
        15,
        "Routing",
        "how often LiteLLM is compared with the last applied routing (the Routing page shows the last result while it "
        "is this fresh, else checks on load)",
        editable=True,
        ge=1,
        le=1440,
    )
    BACKFILL_DAYS: int = setting(  # demo mode: DEMO_HISTORY_DAYS (see _demo_backfills_all)
        90,
        "Data & refresh",
        "history filled at start (older days: `python -m lib.cli backfill`)",
        editable=True,
        default_doc=f"90 (demo mode: {DEMO_HISTORY_DAYS}, all the demo has)",
        ge=0,
        le=3650,
    )
    BACKFILL_CONCURRENCY: int = setting(4, "Data & refresh", "ranges fetched at once during backfill", ge=1, le=16)
    COMPLETE_GRACE_MINUTES: int = setting(
        60,
        "Data & refresh",
        "a day fetched this long after its UTC end is complete and never re-fetched",
        ge=0,
        le=1440,
    )
    ACTIVITY_PAGE_SIZE: int = setting(1000, "Data & refresh", "page size for `/user/daily/activity`", ge=1, le=1000)
    APP_SECRET_KEY: str | None = setting(
        None,
        "Security & logins",
        "signs login cookies (≥ 32 characters in production)",
        secret=True,
        default_doc="generated in demo mode",
    )
    CONSOLE_ENCRYPTION_KEY: str | None = setting(  # Fernet key of the stored provider keys (lib.providers.crypto)
        None,
        "Security & logins",
        "Fernet key (32 bytes, url-safe base64) encrypting the stored provider keys; required outside demo mode "
        "once a provider key is stored (the app refuses to start without it); change it with "
        "`rotate-encryption-key`",
        secret=True,
        default_doc="generated in demo mode",
    )
    COOKIE_SECURE: Literal["auto", "true", "false"] = setting(
        "auto",
        "Security & logins",
        "login cookie sent over HTTPS only: `true`, `false` or `auto` (page is `https://`)",
    )
    ADMIN_USERNAME: str | None = setting(
        None,
        "Security & logins",
        "with `ADMIN_PASSWORD`, outside demo mode: the first admin, created at start when no enabled admin exists "
        "(an existing account of that name becomes admin again); set both or neither",
    )
    ADMIN_PASSWORD: str | None = setting(
        None,
        "Security & logins",
        "that admin's password (≥ 8 characters); only read while no enabled admin exists",
        secret=True,
    )
    LOGIN_MAX_FAILURES: int = setting(
        5,
        "Security & logins",
        "failed logins of one name within 24 hours that lock it (every refused login gets the same answer)",
        editable=True,
        ge=1,
        le=100,
    )
    LOGIN_LOCKOUT_MINUTES: int = setting(
        15,
        "Security & logins",
        "how long a name stays locked after that many failed logins (an admin may unlock it sooner)",
        editable=True,
        ge=1,
        le=1440,
    )
    DEMO_SEED: int = setting(
        42, "LiteLLM connection", "seed of demo mode's generated LiteLLM activity (the same seed, the same data)"
    )
    BACKGROUND_SERVICES: bool = setting(  # false in tests that fill the store themselves
        True,
        "Data & refresh",
        "the app process runs the scheduler: store warm-up and backfill at start, model sync and today's refresh "
        "on their intervals; `false` leaves that to the CLI (cron)",
        default_doc="`true`",
    )
    METRICS_PORT: int = setting(
        9108,
        "Metrics",
        "the app serves `/healthz`, `/readyz` and `/metrics` (Prometheus) on this port, all interfaces, no login "
        "(see [Health and metrics](#health-and-metrics)); `0` turns them off",
        ge=0,
        le=65535,
    )
    KEYS_CACHE_MINUTES: int = setting(
        15,
        "Data & refresh",
        "the console keeps its copy of LiteLLM's keys (Virtual keys, Budgets) and of its users and teams (Budgets) "
        "this long (**Reload from LiteLLM** reads them now; changes made in the console show at once)",
        editable=True,
        ge=1,
        le=1440,
    )
    LOGS_EXPORT_MAX_ROWS: int = setting(
        100_000,
        "Data & refresh",
        "most requests one Request logs export fetches from LiteLLM; a larger filtered view is refused with a "
        "message to narrow it",
        editable=True,
        ge=1_000,
        le=1_000_000,
    )
    ALERT_WEBHOOK_URL: str | None = setting(
        None,
        "Notifications",
        "budget alerts are posted here as Slack-compatible JSON",
        editable=True,
        secret=True,  # a Slack webhook's URL is its credential
    )
    SMTP_HOST: str | None = setting(None, "Notifications", "mail server that sends budget alerts", editable=True)
    SMTP_PORT: int = setting(
        587, "Notifications", "the mail server's port (587: submission with STARTTLS)", editable=True, ge=1, le=65535
    )
    SMTP_USERNAME: str | None = setting(None, "Notifications", "login at the mail server", editable=True)
    SMTP_PASSWORD: str | None = setting(
        None, "Notifications", "password at the mail server", editable=True, secret=True
    )
    SMTP_FROM: str | None = setting(None, "Notifications", "sender address of alert e-mails", editable=True)
    ALERT_EMAIL_TO: str | None = setting(
        None, "Notifications", "recipients of alert e-mails, comma-separated", editable=True
    )

    @model_validator(mode="after")
    def _demo_backfills_all(self):
        """Demo mode loads its whole history unless told otherwise, so "All time" is all the demo has. Set after
        validation, so BACKFILL_DAYS stays unset (its source: the default) and the console may save another."""
        if "BACKFILL_DAYS" not in self.model_fields_set and self.LITELLM_BASE_URL is None:
            object.__setattr__(self, "BACKFILL_DAYS", DEMO_HISTORY_DAYS)  # frozen: the one place that writes
        return self

    @field_validator("LITELLM_BASE_URL", "ALERT_WEBHOOK_URL")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip().rstrip("/")
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @field_validator("SMTP_HOST", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_FROM", "ALERT_EMAIL_TO")
    @classmethod
    def _blank_is_unset(cls, v: str | None) -> str | None:
        return v.strip() if v is not None and v.strip() else None

    @field_validator("SMTP_FROM", "ALERT_EMAIL_TO")
    @classmethod
    def _addresses(cls, v: str | None) -> str | None:
        if v is not None and not all("@" in a.strip() for a in v.split(",")):
            raise ValueError("must be e-mail addresses (name@example.com), comma-separated")
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

    @field_validator("LITELLM_DATABASE_URL")
    @classmethod
    def _litellm_database_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        if not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL (LiteLLM's PostgreSQL; a read-only role is enough)")
        if not info.data.get("LITELLM_BASE_URL"):
            # the API is the fallback, and serves all the rest (models, keys): a database alone is not a proxy
            raise ValueError("needs LITELLM_BASE_URL as well (the API is the fallback)")
        return v

    @property
    def demo_mode(self) -> bool:
        return self.LITELLM_BASE_URL is None

    @property
    def store_dir(self) -> Path:
        """Folder of the usage store: day partitions beside the DUCKDB_PATH name."""
        p = Path(self.DUCKDB_PATH)
        return p.with_suffix("") if p.suffix else p.with_name(p.name + ".store")


@dataclass(frozen=True)
class SettingSpec:
    """One setting as the page, validation and the README describe it (derived from its field)."""

    name: str
    group: str
    help: str
    default: Any
    default_doc: str  # the default as the README and the page show it
    minimum: float | None  # inclusive bounds, or exclusive where `exclusive_minimum`
    maximum: float | None
    exclusive_minimum: bool
    choices: tuple[str, ...] | None
    secret: bool
    editable: bool  # saved in the console, in effect without a restart

    @property
    def restart_required(self) -> bool:
        return not self.editable

    @property
    def allowed(self) -> str:
        """Its allowed range or choices, in words ("1 to 1440", "auto, true or false"), or ""."""
        if self.choices:
            return ", ".join(self.choices[:-1]) + " or " + self.choices[-1]
        if self.minimum is None and self.maximum is None:
            return ""
        low = "" if self.minimum is None else f"{'more than ' if self.exclusive_minimum else ''}{_number(self.minimum)}"
        if self.maximum is None:
            return f"at least {low}" if not self.exclusive_minimum else low
        if self.exclusive_minimum:
            return f"{low}, at most {_number(self.maximum)}"
        return f"{low} to {_number(self.maximum)}" if low else f"at most {_number(self.maximum)}"


def _number(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,}"


def _spec(name: str, field) -> SettingSpec:
    extra = field.json_schema_extra or {}
    bounds = {type(m).__name__: m for m in field.metadata}
    low = bounds.get("Ge") or bounds.get("Gt")
    choices = get_args(field.annotation) if get_origin(field.annotation) is Literal else None
    default = field.default
    doc = extra.get("default_doc")
    if doc is None:
        doc = "" if default is None else f"`{default}`" if isinstance(default, str) else str(default)
    return SettingSpec(
        name=name,
        group=extra["group"],
        help=extra["help"],
        default=default,
        default_doc=doc,
        minimum=None if low is None else getattr(low, "ge", getattr(low, "gt", None)),
        maximum=bounds["Le"].le if "Le" in bounds else None,
        exclusive_minimum="Gt" in bounds,
        choices=tuple(choices) if choices else None,
        secret=extra["secret"],
        editable=extra["editable"],
    )


# Every setting, in the model's order: the one list (the Settings page, README table, saved-value validation).
SETTINGS_SPEC: dict[str, SettingSpec] = {name: _spec(name, f) for name, f in Settings.model_fields.items()}
SECRET_NAMES = frozenset(n for n, spec in SETTINGS_SPEC.items() if spec.secret)
EDITABLE_NAMES = tuple(n for n, spec in SETTINGS_SPEC.items() if spec.editable)


def settings_table_markdown() -> str:
    """The README's settings tables, one per group: generated from SETTINGS_SPEC (tests/test_docs.py checks the
    README holds exactly this; `python -m lib.core.settings` prints it)."""
    out = []
    for group in GROUPS:
        specs = [s for s in SETTINGS_SPEC.values() if s.group == group]
        if not specs:
            continue
        out += [f"### {group}", "", "| variable | default | allowed | meaning |", "| --- | --- | --- | --- |"]
        for s in specs:
            notes = [s.help]
            if s.editable:
                notes.append("*changeable on the Settings page*")
            if s.secret:
                notes.append("*secret*")
            out.append(f"| `{s.name}` | {s.default_doc} | {s.allowed} | {'; '.join(notes)} |")
        out.append("")
    return "\n".join(out)


SECRETS_TOML = PROJECT_ROOT / ".streamlit" / "secrets.toml"


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
        shown = "" if name in SECRET_NAMES else f" (got {raw.get(name)!r})"
        raise SettingsError(f"{name}: {err['msg']}{shown}") from None


if __name__ == "__main__":  # print the README's settings tables
    print(settings_table_markdown())
