"""The console's providers: its two tables, the `Provider` record, and the validation of what an operator types.

`providers` holds a provider's console metadata and its key (encrypted, lib.providers.crypto); `provider_models`
the public model names it serves, each with the provider's own model name and the id of its LiteLLM deployment
(deterministic for deployments the console made, the existing id for adopted ones). Records are written only for
what LiteLLM accepted (lib.providers.service).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

from lib.core.clock import as_aware, utcnow
from lib.core.db import metadata
from lib.core.errors import ConsoleError
from lib.providers.types import PROVIDER_TYPES, ProviderType

DEFAULT_PRIORITY = 50
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_PUBLIC_NAME, MAX_PROVIDER_MODEL, MAX_KEY = 256, 512, 4096
_PRINTABLE = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: what an HTTP header can carry
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")

providers = Table(
    "providers",
    metadata,
    Column("name", String(64), primary_key=True),  # the LiteLLM credential's name
    Column("type", String(32), nullable=False),  # lib.providers.types id
    Column("display_name", String(256)),
    Column("api_base", String(1024)),
    Column("extra", JSON),  # the type's extra fields, e.g. {"api_version": "2024-10-21"}
    Column("api_key_encrypted", Text),  # Fernet token; NULL: no key (Ollama) or kept by LiteLLM only (adopted)
    # the environment variable the operator gave the key in (`providers add --api-key-env NAME`): a name, never the
    # key; litellm-config writes `os.environ/<it>`. NULL: added on the page (key_variable derives one)
    Column("api_key_env", String(256)),
    Column("priority", Integer, nullable=False, default=DEFAULT_PRIORITY),  # 1..100, lower is tried first
    Column("auto_fallback", Boolean, nullable=False, default=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("last_test_at", DateTime(timezone=True)),
    Column("last_test_result", String(32)),
    Column("last_test_message", Text),
    Column("last_test_latency_ms", Float),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

provider_models = Table(
    "provider_models",
    metadata,
    Column("provider", String(64), nullable=False),
    Column("public_name", String(MAX_PUBLIC_NAME), nullable=False),  # the model group clients ask for
    Column("provider_model", String(MAX_PROVIDER_MODEL), nullable=False),  # the provider's name, without prefix
    Column("deployment_id", String(256), nullable=False),  # LiteLLM's model_info.id of its deployment
    PrimaryKeyConstraint("provider", "public_name"),
    ForeignKeyConstraint(["provider"], ["providers.name"], ondelete="CASCADE"),
)


class ProviderInputError(ConsoleError, ValueError):
    """What was typed for a provider is not usable; the message says which field and why (never the key)."""


def deployment_id(provider: str, public_name: str) -> str:
    """The id of the deployment the console makes for (provider, public name): the same every time, so applying a
    plan twice finds what the first run made."""
    return f"console-{provider}-{hashlib.sha256(public_name.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class ProviderModel:
    public_name: str
    provider_model: str
    deployment_id: str = ""

    def with_id(self, provider: str) -> ProviderModel:
        return self if self.deployment_id else replace(self, deployment_id=deployment_id(provider, self.public_name))


@dataclass(frozen=True)
class Provider:
    """One provider as the console keeps it. `api_key_encrypted` is the only form of its key a record holds."""

    name: str
    type: str
    api_base: str | None
    display_name: str | None = None
    extra: dict = field(default_factory=dict)
    api_key_encrypted: str | None = field(default=None, repr=False)
    api_key_env: str | None = None  # the operator's variable holding the key (a name); None: key_variable derives one
    priority: int = DEFAULT_PRIORITY
    auto_fallback: bool = True
    enabled: bool = True
    models: tuple[ProviderModel, ...] = ()
    last_test_at: datetime | None = None
    last_test_result: str | None = None
    last_test_message: str | None = None
    last_test_latency_ms: float | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def provider_type(self) -> ProviderType:
        return PROVIDER_TYPES[self.type]

    @property
    def label(self) -> str:
        return self.display_name or self.name

    @property
    def key_variable(self) -> str | None:
        """The environment variable a LiteLLM config reads this provider's key from: the one the operator gave
        (`--api-key-env`), else `default_key_variable(name)`; None for a type without keys."""
        if not self.provider_type.needs_key:
            return None
        return self.api_key_env or default_key_variable(self.name)


def default_key_variable(name: str) -> str:
    """The derived variable name of a key nobody named (a provider added on the page, a config-file deployment):
    the name upper-cased, every run of other characters an underscore, then `_API_KEY` (`acme-eu` → ACME_EU_API_KEY).
    """
    return re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") + "_API_KEY"


@dataclass(frozen=True)
class ProviderInput:
    """A provider as typed into the Add / Configure dialog or the CLI. `api_key` None keeps the stored key (and is
    required when there is none and the type needs one); `api_base` None takes the type's default."""

    name: str
    type: str
    api_key: str | None = field(default=None, repr=False)
    api_base: str | None = None
    display_name: str | None = None
    api_key_env: str | None = None  # the variable the key was read from (CLI); stored as a name
    extra: dict = field(default_factory=dict)
    priority: int = DEFAULT_PRIORITY
    auto_fallback: bool = True
    enabled: bool = True


# -- validation ------------------------------------------------------------------------------------------
def validate_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_PATTERN.fullmatch(name):
        raise ProviderInputError(
            "Name: 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit (it names the LiteLLM "
            "credential)"
        )
    return name


def validate_type(type_id: str) -> ProviderType:
    if type_id not in PROVIDER_TYPES:
        raise ProviderInputError(f"Type: unknown provider type {type_id!r}; one of {', '.join(PROVIDER_TYPES)}")
    return PROVIDER_TYPES[type_id]


def validate_priority(priority) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 100:
        raise ProviderInputError(f"Priority: a whole number from 1 (tried first) to 100, not {priority!r}")
    return priority


def validate_api_base(api_base: str | None, ptype: ProviderType) -> str:
    text = (api_base or "").strip() or ptype.default_api_base
    if not text:
        raise ProviderInputError(f"API base: {ptype.label} needs the endpoint's URL, e.g. https://host/v1")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (validates the port)
    except ValueError:
        raise ProviderInputError("API base: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderInputError("API base: must start with http:// or https:// and name a host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ProviderInputError("API base: no user:password@, query string or fragment (the key goes in its field)")
    return text.rstrip("/")


def validate_key(api_key: str | None, ptype: ProviderType, have_stored: bool) -> str | None:
    """The key to store (None: keep the stored one, or none at all for a type without keys)."""
    if api_key is None or not api_key.strip():
        if ptype.needs_key and not have_stored:
            raise ProviderInputError(f"API key: {ptype.label} needs an API key")
        return None
    api_key = api_key.strip()
    if len(api_key) > MAX_KEY or not _PRINTABLE.fullmatch(api_key):
        raise ProviderInputError(
            "API key: contains characters that cannot be sent (spaces, line breaks or non-ASCII) or is too long; "
            "check that it was pasted whole"
        )
    return api_key


def validate_env_name(name: str | None) -> str | None:
    """An environment variable's name (letters, digits, underscores; not starting with a digit), or None."""
    if name is None or not name.strip():
        return None
    name = name.strip()
    if not ENV_NAME.fullmatch(name):
        raise ProviderInputError(
            f"API key variable: {name[:40]!r} is not an environment variable name (letters, digits and _, not "
            "starting with a digit)"
        )
    return name


def validate_extra(extra: dict | None, ptype: ProviderType) -> dict:
    extra = {k: ("" if v is None else str(v).strip()) for k, v in (extra or {}).items()}
    known = {f.name for f in ptype.extra_fields}
    unknown = sorted(set(extra) - known)
    if unknown:
        raise ProviderInputError(f"{ptype.label} has no setting {', '.join(unknown)}")
    out = {}
    for f in ptype.extra_fields:
        value = extra.get(f.name) or f.default
        if f.required and not value:
            raise ProviderInputError(f"{f.label}: required for {ptype.label}")
        if value and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", value):
            raise ProviderInputError(f"{f.label}: letters, digits, '.', '-' and '_' only")
        out[f.name] = value
    return out


def validate_models(models, provider: str) -> tuple[ProviderModel, ...]:
    """(public name, provider model) pairs: both non-empty, printable, public names unique within the provider."""
    out, seen = [], set()
    for m in models or ():
        public, backend = (m.public_name, m.provider_model) if isinstance(m, ProviderModel) else m
        public, backend = (public or "").strip(), (backend or "").strip()
        if not public or not backend:
            raise ProviderInputError("Models: each needs a public name and the provider's model name")
        for label, text, limit in (("public name", public, MAX_PUBLIC_NAME), ("model", backend, MAX_PROVIDER_MODEL)):
            if len(text) > limit or not text.isprintable():
                raise ProviderInputError(f"Models: the {label} {text[:40]!r} is too long or has control characters")
        if public in seen:
            raise ProviderInputError(f"Models: the public name {public!r} is listed twice")
        seen.add(public)
        out.append(ProviderModel(public, backend).with_id(provider))
    return tuple(out)


# -- reading and writing -----------------------------------------------------------------------------------
def load_providers(conn) -> list[Provider]:
    """Every provider with its models, by name."""
    models: dict[str, list[ProviderModel]] = {}
    for r in conn.execute(select(provider_models).order_by(provider_models.c.public_name)).mappings():
        models.setdefault(r["provider"], []).append(
            ProviderModel(r["public_name"], r["provider_model"], r["deployment_id"])
        )
    out = []
    for r in conn.execute(select(providers).order_by(providers.c.name)).mappings():
        row = dict(r)
        for k in ("last_test_at", "created_at", "updated_at"):
            row[k] = as_aware(row[k]) if row[k] else None
        out.append(Provider(**{**row, "extra": dict(row["extra"] or {}), "models": tuple(models.get(r["name"], []))}))
    return out


def get_provider(conn, name: str) -> Provider | None:
    return next((p for p in load_providers(conn) if p.name == name), None)


def save_provider(conn, p: Provider) -> None:
    """Insert or replace the provider and its models (the models listed are all it has)."""
    now = utcnow()
    values = {
        "type": p.type,
        "display_name": p.display_name,
        "api_base": p.api_base,
        "extra": dict(p.extra),
        "api_key_encrypted": p.api_key_encrypted,
        "api_key_env": p.api_key_env,
        "priority": p.priority,
        "auto_fallback": p.auto_fallback,
        "enabled": p.enabled,
        "updated_at": now,
    }
    exists = conn.execute(select(providers.c.name).where(providers.c.name == p.name)).first() is not None
    if exists:
        conn.execute(update(providers).where(providers.c.name == p.name).values(**values))
    else:
        conn.execute(insert(providers).values(name=p.name, created_at=p.created_at or now, **values))
    conn.execute(delete(provider_models).where(provider_models.c.provider == p.name))
    for m in p.models:
        conn.execute(
            insert(provider_models).values(
                provider=p.name,
                public_name=m.public_name,
                provider_model=m.provider_model,
                deployment_id=m.deployment_id,
            )
        )


def delete_provider_record(conn, name: str) -> None:
    conn.execute(delete(provider_models).where(provider_models.c.provider == name))
    conn.execute(delete(providers).where(providers.c.name == name))


def record_test(conn, name: str, result: str, message: str, latency_ms: float | None) -> None:
    conn.execute(
        update(providers)
        .where(providers.c.name == name)
        .values(
            last_test_at=utcnow(), last_test_result=result, last_test_message=message, last_test_latency_ms=latency_ms
        )
    )
