"""LiteLLM's users and teams with their own budgets: `/user/list` (paged), `/team/list`, `/user/info`, `/team/info`,
and the changes `/user/update` and `/team/update` of a `max_budget` + `budget_duration`. Answers validated with
pydantic (LiteLLM's replies are untrusted input); errors are the client's (lib.litellm.client).

LiteLLM 1.108 facts (checked against the harness): `/user/list?page&page_size` (at most 100) answers
`{users, total, page, page_size, total_pages}`; `/team/list` a plain list of every team; `/user/info?user_id=` and
`/team/info?team_id=` answer 404 for an unknown one. `/team/update` of an unknown team is refused (404), but
`/user/update` of an unknown user **creates** that user: check that the user exists first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lib.litellm.client import LiteLLMBadResponse, LiteLLMClient, bad_response

USER_PAGE_SIZE = 100  # LiteLLM refuses a larger page_size on /user/list (422)


class _Limited(BaseModel):
    """What a user and a team share: their spend and their own budget."""

    model_config = ConfigDict(extra="ignore")

    spend: float = 0.0
    max_budget: float | None = None
    budget_duration: str | None = None
    budget_reset_at: datetime | None = None

    @field_validator("spend", mode="before")
    @classmethod
    def _spend(cls, v):
        return 0.0 if v is None else v


class LiteLLMUser(_Limited):
    user_id: str = Field(min_length=1)
    user_email: str | None = None
    user_alias: str | None = None


class LiteLLMTeam(_Limited):
    team_id: str = Field(min_length=1)
    team_alias: str | None = None


class UserListPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    users: list[LiteLLMUser]
    total: int | None = None
    page: int | None = None
    total_pages: int = Field(ge=0)


def list_users(client: LiteLLMClient, page_size: int = USER_PAGE_SIZE) -> list[LiteLLMUser]:
    """Every user LiteLLM has, page by page."""
    path, out, page = "/user/list", [], 1
    while True:
        got = client._parse_response(UserListPage, client._get(path, {"page": page, "page_size": page_size}), path)
        out += got.users
        if page >= got.total_pages or not got.users:
            return out
        page += 1


def list_teams(client: LiteLLMClient) -> list[LiteLLMTeam]:
    path = "/team/list"
    body = client._get_json(path)
    if not isinstance(body, list):
        raise LiteLLMBadResponse(f"LiteLLM's {client.base_url}{path} response is not a list of teams")
    try:
        return [LiteLLMTeam.model_validate(t) for t in body]
    except ValidationError as exc:
        raise bad_response(f"{client.base_url}{path}", exc, b"") from None


def _info(client: LiteLLMClient, path: str, params: dict, field: str, model: type[_Limited], ident: dict):
    body = client._get_json(path, params)
    info = body.get(field) if isinstance(body, dict) else None
    if not isinstance(info, dict):
        raise LiteLLMBadResponse(f"LiteLLM's {client.base_url}{path} response has no '{field}'")
    try:
        return model.model_validate(info | ident)
    except ValidationError as exc:
        raise bad_response(f"{client.base_url}{path}", exc, b"") from None


def user_info(client: LiteLLMClient, user_id: str) -> LiteLLMUser:
    """One user as LiteLLM holds it (`/user/info`); LiteLLMBadResponse with status 404 when it has none."""
    return _info(client, "/user/info", {"user_id": user_id}, "user_info", LiteLLMUser, {"user_id": user_id})


def team_info(client: LiteLLMClient, team_id: str) -> LiteLLMTeam:
    """One team as LiteLLM holds it (`/team/info`); LiteLLMBadResponse with status 404 when it has none."""
    return _info(client, "/team/info", {"team_id": team_id}, "team_info", LiteLLMTeam, {"team_id": team_id})


def update_user(client: LiteLLMClient, user_id: str, changes: dict[str, Any]) -> None:
    """`/user/update`: only the fields in `changes` change. LiteLLM creates a user it does not know. A refusal
    raises LiteLLMRefused with LiteLLM's own words."""
    client._change("POST", "/user/update", {"user_id": user_id, **changes})


def update_team(client: LiteLLMClient, team_id: str, changes: dict[str, Any]) -> None:
    """`/team/update`; an unknown team is refused (404): LiteLLMRefused with LiteLLM's own words."""
    client._change("POST", "/team/update", {"team_id": team_id, **changes})


def is_not_found(exc: Exception) -> bool:
    return isinstance(exc, LiteLLMBadResponse) and exc.status == 404
