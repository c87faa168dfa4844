"""LiteLLM's virtual-key endpoints (`/key/*`): their answers validated with pydantic (LiteLLM's replies are
untrusted input), their errors the client's (lib.litellm.client).

A key is identified by its `token`: the sha256 of the plaintext key in hex, the same hash the usage store's
`api_key` holds. The plaintext exists only in `/key/generate`'s answer; here it is a `SecretStr` (its repr
and str are masked), so it cannot reach a log or an error message by accident.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from lib.litellm.client import LiteLLMBadResponse, LiteLLMClient, bad_response

MAX_PAGE_SIZE = 100  # LiteLLM refuses larger `size` on /key/list (422)
LIST_STATUSES = ("active", "expired", "revoked", "deleted")  # /key/list's `status`; revoked = blocked


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class KeyBudget(_Lenient):
    """The budget row LiteLLM links to a key (where it keeps the key's soft budget)."""

    soft_budget: float | None = None


class KeyOwner(_Lenient):
    """`expand=user`: the key owner's user row."""

    user_email: str | None = None


class LiteLLMKey(_Lenient):
    """One key as `/key/list?return_full_object=true` and `/key/info` give it (the fields the console reads)."""

    token: str = Field(min_length=1)
    key_name: str | None = None  # LiteLLM's masked name, e.g. "sk-...H6EQ"
    key_alias: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    models: list[str] = Field(default_factory=list)
    spend: float = 0.0
    max_budget: float | None = None
    soft_budget: float | None = None
    litellm_budget_table: KeyBudget | None = None
    budget_duration: str | None = None
    budget_reset_at: datetime | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    expires: datetime | None = None
    blocked: bool | None = None
    created_at: datetime | None = None
    last_active: datetime | None = None
    deleted_at: datetime | None = None  # only on keys listed with status=deleted
    user_email: str | None = None
    user: KeyOwner | None = None

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, v):
        return [] if v is None else v

    @field_validator("spend", mode="before")
    @classmethod
    def _spend(cls, v):
        return 0.0 if v is None else v

    @property
    def soft_budget_value(self) -> float | None:
        """LiteLLM 1.108 keeps a key's soft budget in its budget row, not on the key."""
        if self.soft_budget is not None:
            return self.soft_budget
        return self.litellm_budget_table.soft_budget if self.litellm_budget_table else None

    @property
    def owner_email(self) -> str | None:
        return self.user_email or (self.user.user_email if self.user else None)


class KeyListPage(_Lenient):
    keys: list[LiteLLMKey]
    total_count: int | None = None
    current_page: int | None = None
    total_pages: int = Field(ge=0)


class GeneratedKey(LiteLLMKey):
    """`/key/generate`'s answer: the new key's settings and, once, its plaintext."""

    key: SecretStr


# -- reads -------------------------------------------------------------------------------------------------
def list_keys_page(
    client: LiteLLMClient,
    page: int,
    size: int = MAX_PAGE_SIZE,
    *,
    status: str | None = None,
    user_id: str | None = None,
    key_hash: str | None = None,
) -> KeyListPage:
    """One page of keys, oldest first (a key created while pages are read lands on the last page, so the
    pages before it do not shift). Without `status`: live keys (active, expired and blocked); "deleted": the
    archive of deleted keys."""
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"page size must be 1..{MAX_PAGE_SIZE}")
    params: dict[str, Any] = {
        "page": page,
        "size": size,
        "return_full_object": "true",
        "expand": "user",  # the owner's e-mail
        "sort_by": "created_at",
        "sort_order": "asc",
    }
    for name, value in (("status", status), ("user_id", user_id), ("key_hash", key_hash)):
        if value is not None:
            params[name] = value
    path = "/key/list"
    return client._parse_response(KeyListPage, client._get(path, params), path)


def key_info(client: LiteLLMClient, token: str) -> LiteLLMKey:
    """One key's current settings (`/key/info?key=<hash>`)."""
    path = "/key/info"
    body = client._get_json(path, {"key": token})
    info = body.get("info") if isinstance(body, dict) else None
    if not isinstance(info, dict):
        raise LiteLLMBadResponse(f"LiteLLM's {client.base_url}{path} response has no 'info' (a field it always sends)")
    try:
        return LiteLLMKey.model_validate(info | {"token": token})
    except ValidationError as exc:
        raise bad_response(f"{client.base_url}{path}", exc, b"") from None


# -- changes -----------------------------------------------------------------------------------------------
def generate_key(client: LiteLLMClient, body: dict[str, Any]) -> GeneratedKey:
    """A new key. Its answer is never quoted in an error (it holds the plaintext key)."""
    path = "/key/generate"
    resp = client._send_change("POST", path, body)
    try:
        return GeneratedKey.model_validate_json(resp.content)
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "the body"
        raise LiteLLMBadResponse(
            f"LiteLLM's {client.base_url}{path} answer could not be read at '{where}' ({first['type']}); the key may "
            "have been created: reload the keys to see it"
        ) from None


def update_key(client: LiteLLMClient, token: str, changes: dict[str, Any]) -> None:
    """`/key/update`: only the fields in `changes` change (None clears a limit)."""
    client._change("POST", "/key/update", {"key": token, **changes})


def block_key(client: LiteLLMClient, token: str) -> None:
    client._change("POST", "/key/block", {"key": token})


def unblock_key(client: LiteLLMClient, token: str) -> None:
    client._change("POST", "/key/unblock", {"key": token})


def delete_key(client: LiteLLMClient, token: str) -> None:
    client._change("POST", "/key/delete", {"keys": [token]})
