"""A console budget pushed to the real LiteLLM proxy (../shared/litellm) is enforced by LiteLLM: the key's
max_budget and budget_duration are what /key/info says, and once the key's spend passes the amount LiteLLM
refuses its requests. The oracle is LiteLLM itself (its answers to the key's chat requests and /key/info)."""

from __future__ import annotations

import hashlib
import re
import uuid

import httpx
import pytest

from lib.auth.accounts import User
from lib.auth.audit import list_audit
from lib.budgets import service
from lib.budgets.litellm_limits import all_limits, fetch_owners, key_limits, push_budget, push_key_budget
from lib.budgets.records import BudgetInputError
from lib.keys import plans
from lib.litellm.client import LiteLLMRefused
from tests.support.litellm_harness import admin_http, console_runtime

pytestmark = pytest.mark.litellm
ADMIN = User("root", "Root", None, "admin", None, True)
RUN = uuid.uuid4().hex[:8]
PROMPT = f"budget {RUN} " + "lorem ipsum dolor sit amet " * 300  # ~1,000 tokens: a few requests pass a cent


@pytest.fixture(scope="module")
def rt(litellm_harness, tmp_path_factory):
    runtime = console_runtime(litellm_harness, tmp_path_factory.mktemp("budgets_litellm"))
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def proxy(litellm_harness):
    with admin_http(litellm_harness) as http:
        yield http


def _chat(proxy: httpx.Client, plaintext: str) -> httpx.Response:
    return proxy.post(
        "/chat/completions",
        headers={"Authorization": f"Bearer {plaintext}"},
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": PROMPT}]},
    )


def test_a_pushed_budget_makes_litellm_refuse_the_key_once_its_spend_passes_it(rt, proxy):
    made = plans.plan_create(plans.KeySettings.of(alias=f"budget-{RUN}", models=("gpt-4o",)))
    with rt.litellm_client() as client:
        outcome = plans.apply_plan(rt.engine, client, ADMIN, made, rt.key_snapshots)
    plaintext = outcome.plaintext.get_secret_value()
    token = hashlib.sha256(plaintext.encode()).hexdigest()
    assert _chat(proxy, plaintext).status_code == 200  # no limit yet

    budget = service.create_budget(rt.engine, ADMIN, "api_key", token, 0.01, "day", 0.8)
    with rt.litellm_client() as client:
        key = push_key_budget(rt.engine, client, ADMIN, budget, rt.key_snapshots)
    info = proxy.get("/key/info", params={"key": token}).json()["info"]
    assert (info["max_budget"], info["budget_duration"]) == (0.01, "1d")
    assert key.max_budget == 0.01
    row = list_audit(rt.engine, action="budgets.push_to_litellm").iloc[0]
    assert row["outcome"] == "success" and row["details"]["changes"] == {"max_budget": 0.01, "budget_duration": "1d"}
    assert plaintext not in list_audit(rt.engine).to_json()

    answers = []
    for _ in range(60):
        r = _chat(proxy, plaintext)
        answers.append(r.status_code)
        if r.status_code != 200:
            break
    assert answers[0] == 200 and answers[-1] != 200, answers  # served while under, then refused
    # refused because the spend LiteLLM counts (its cache; its database is written in batches) passed the amount
    said = re.search(r"Current cost: ([0-9.e-]+).*Max budget: ([0-9.e-]+)", r.text)
    assert said, r.text
    assert float(said[1]) >= 0.01 and float(said[2]) == 0.01

    limits = key_limits(rt.key_snapshots.get(rt.litellm_client, reload=True).keys)
    assert limits[limits["token"] == token].iloc[0]["max_budget"] == 0.01


def test_a_budget_spends_what_litellm_counts_for_the_traffic_of_its_key_and_its_user(rt, proxy, litellm_harness):
    """The harness's traffic (sent today), refreshed into the usage store: an API-key budget has spent what
    LiteLLM's /key/info says the key spent, a user budget the sum over the user's keys."""
    from lib import services
    from lib.budgets.status import status
    from lib.core.clock import utcnow

    services.run_refresh_today(rt, "test")
    traffic = litellm_harness["traffic"]
    user = traffic["users"][0]["user_id"]
    user_keys = [k["hash"] for k in traffic["keys"] if k["user_id"] == user]
    spend = {h: proxy.get("/key/info", params={"key": h}).json()["info"]["spend"] for h in user_keys}
    assert sum(spend.values()) > 0
    today = utcnow().date()
    for h in user_keys:
        b = service.create_budget(rt.engine, ADMIN, "api_key", h, 100, "month", 0.8)
        assert status(rt.store, b, today).spent == pytest.approx(spend[h], rel=1e-6, abs=1e-9)
    b = service.create_budget(rt.engine, ADMIN, "user", user, 100, "day", 0.8)
    assert status(rt.store, b, today).spent == pytest.approx(sum(spend.values()), rel=1e-6)


def _pushes(rt, target: str):
    rows = list_audit(rt.engine, action="budgets.push_to_litellm")
    return rows[rows["target"] == target]


def test_team_and_user_budgets_pushed_to_litellm_are_what_its_team_info_and_user_info_say(rt, proxy):
    """A console budget of a team and of a user, pushed: /team/update and /user/update set max_budget and
    budget_duration, read back by the console and independently by /team/info and /user/info; audited."""
    team_id = proxy.post("/team/new", json={"team_alias": f"push-{RUN}"}).json()["team_id"]
    user_id = f"push-user-{RUN}"
    assert proxy.post("/user/new", json={"user_id": user_id}).status_code == 200

    team_budget = service.create_budget(rt.engine, ADMIN, "team", team_id, 250, "month", 0.8)
    user_budget = service.create_budget(rt.engine, ADMIN, "user", user_id, 40, "week", 0.8)
    with rt.litellm_client() as client:
        pushed_team = push_budget(rt.engine, client, ADMIN, team_budget)
        pushed_user = push_budget(rt.engine, client, ADMIN, user_budget)

    team = proxy.get("/team/info", params={"team_id": team_id}).json()["team_info"]
    user = proxy.get("/user/info", params={"user_id": user_id}).json()["user_info"]
    assert (team["max_budget"], team["budget_duration"]) == (250, "30d")
    assert (user["max_budget"], user["budget_duration"]) == (40, "7d")
    assert (pushed_team.max_budget, pushed_team.budget_duration) == (team["max_budget"], team["budget_duration"])
    assert (pushed_user.max_budget, pushed_user.budget_duration) == (user["max_budget"], user["budget_duration"])
    assert pushed_user.budget_reset_at is not None and user["budget_reset_at"] is not None

    rows = list_audit(rt.engine, action="budgets.push_to_litellm")
    done = rows[rows["outcome"] == "success"].iloc[:2]
    assert {r["details"].get("team") or r["details"].get("user") for _, r in done.iterrows()} == {team_id, user_id}
    assert all(r["details"]["litellm_now"]["max_budget"] in (250, 40) for _, r in done.iterrows())

    # the limits the Budgets page lists: LiteLLM's users and teams with their own budgets
    with rt.litellm_client() as client:
        users, teams = fetch_owners(client)
    limits = all_limits(None, users, teams).set_index("id")
    assert limits.loc[team_id, ["kind", "max_budget", "budget_duration"]].tolist() == ["Team", 250, "30d"]
    assert limits.loc[user_id, ["kind", "max_budget", "budget_duration"]].tolist() == ["User", 40, "7d"]
    assert limits.loc[team_id, "spend"] == team["spend"]


def test_a_push_litellm_refuses_is_shown_with_its_reason_and_recorded_as_failed(rt, proxy):
    """A team LiteLLM does not have: /team/update refuses it (404), the reason is in the error and the audit's
    failure row, no success row. A user it does not have is refused before /user/update (which would create it)."""
    ghost_team = f"no-such-team-{RUN}"
    budget = service.create_budget(rt.engine, ADMIN, "team", ghost_team, 10, "day", 0.8)
    with rt.litellm_client() as client, pytest.raises(LiteLLMRefused) as err:
        push_budget(rt.engine, client, ADMIN, budget)
    assert "Team not found" in str(err.value)
    rows = _pushes(rt, budget.label)
    assert rows["outcome"].tolist() == ["failure"] and "Team not found" in rows.iloc[0]["details"]["error"]

    ghost_user = f"no-such-user-{RUN}"
    budget = service.create_budget(rt.engine, ADMIN, "user", ghost_user, 10, "day", 0.8)
    with rt.litellm_client() as client, pytest.raises(BudgetInputError, match="LiteLLM has no user"):
        push_budget(rt.engine, client, ADMIN, budget)
    assert proxy.get("/user/info", params={"user_id": ghost_user}).status_code == 404  # not created
    rows = _pushes(rt, budget.label)
    assert rows["outcome"].tolist() == ["failure"]
