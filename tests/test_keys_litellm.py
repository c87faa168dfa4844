"""Virtual keys against the real LiteLLM proxy (../shared/litellm): a key made through lib.keys works for a chat
request through the proxy; blocked, the proxy refuses it (401); unblocked, it works again; edited budgets and
limits are what /key/info says; deleted, it is listed as deleted and refused; replaced, the copy works and the
old key is refused. The oracle is LiteLLM itself (its own admin API, answers to chat requests with the key, and
the fake backend's record of what reached it), never lib.keys' own reading.

The harness is shared by the session: every key made here has an alias unique to this module's run.
"""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pandas as pd
import pytest

from lib.auth.accounts import User
from lib.auth.audit import list_audit
from lib.core.settings import load_settings
from lib.keys import plans
from lib.keys.snapshot import fetch_keys
from lib.litellm.keys_api import MAX_PAGE_SIZE
from lib.runtime import Runtime
from tests.support.litellm_harness import admin_http, backend_hooks, console_runtime

pytestmark = pytest.mark.litellm
ADMIN = User("root", "Root", None, "admin", None, True)
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def proxy(litellm_harness):
    with admin_http(litellm_harness) as http:
        yield http


@pytest.fixture(scope="module")
def rt(litellm_harness, tmp_path_factory):
    runtime = console_runtime(litellm_harness, tmp_path_factory.mktemp("keys_litellm"))
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def backend(litellm_harness):
    with backend_hooks(litellm_harness) as http:
        yield http


def _apply(rt: Runtime, plan: plans.KeyPlan) -> plans.KeyOutcome:
    with rt.litellm_client() as client:
        return plans.apply_plan(rt.engine, client, ADMIN, plan, rt.key_snapshots)


def _row(rt: Runtime, token: str):
    keys = rt.key_snapshots.get(rt.litellm_client).keys
    found = keys[keys["token"] == token]
    assert len(found) == 1, f"{token} is not in the snapshot"
    return found.iloc[0]


def _chat(proxy: httpx.Client, plaintext: str, model: str = "gpt-4o-mini") -> httpx.Response:
    return proxy.post(
        "/chat/completions",
        headers={"Authorization": f"Bearer {plaintext}"},
        json={"model": model, "messages": [{"role": "user", "content": f"hello {RUN}"}]},
    )


def _info(proxy: httpx.Client, token: str) -> dict:
    resp = proxy.get("/key/info", params={"key": token})
    assert resp.status_code == 200, resp.text
    return resp.json()["info"]


def _create(rt: Runtime, name: str, **settings) -> tuple[str, str]:
    """A key made through lib.keys: (its plaintext, its hash)."""
    plan = plans.plan_create(plans.KeySettings.of(alias=f"{name}-{RUN}", models=("gpt-4o-mini",), **settings))
    outcome = _apply(rt, plan)
    plaintext = outcome.plaintext.get_secret_value()
    assert outcome.key.token == hashlib.sha256(plaintext.encode()).hexdigest()  # LiteLLM's token is the hash
    return plaintext, outcome.key.token


def test_a_created_key_works_blocked_is_refused_and_unblocked_works_again(rt, proxy, backend):
    plaintext, token = _create(rt, "chat", max_budget=5.0, rpm_limit=100)
    backend.delete("/_requests")
    first = _chat(proxy, plaintext)
    assert first.status_code == 200, first.text
    sent = [r for r in backend.get("/_requests").json() if r.get("model") == "gpt-4o-mini"]
    assert sent, "the chat request never reached the backend"
    assert _info(proxy, token)["key_alias"] == f"chat-{RUN}"

    blocked = _apply(rt, plans.plan_block(_row(rt, token)))
    assert blocked.key.blocked is True and _info(proxy, token)["blocked"] is True
    refused = _chat(proxy, plaintext)
    assert refused.status_code == 401, refused.text
    assert "blocked" in refused.text.lower()
    assert _row(rt, token)["status"] == "blocked"  # the snapshot was patched from LiteLLM's answer

    _apply(rt, plans.plan_unblock(_row(rt, token)))
    assert not _info(proxy, token)["blocked"]
    again = _chat(proxy, plaintext)
    assert again.status_code == 200, again.text
    assert _row(rt, token)["status"] == "active"

    rows = list_audit(rt.engine)
    mine = rows[rows["target"].str.startswith(f"chat-{RUN}", na=False)]
    assert list(mine["action"])[::-1] == ["keys.create", "keys.block", "keys.unblock"]
    assert set(mine["outcome"]) == {"success"}
    assert plaintext not in rows.to_json()


def test_edited_budget_limits_models_alias_and_expiry_are_what_key_info_says(rt, proxy):
    _plaintext, token = _create(rt, "edit", max_budget=10.0, budget_period="30d", tpm_limit=1000)
    desired = plans.KeySettings.of(
        alias=f"edited-{RUN}",
        models=("gpt-4o", "gpt-4o-mini"),
        max_budget=3.5,
        soft_budget=2.0,
        budget_period="7d",
        rpm_limit=7,
        tpm_limit=None,  # cleared
    )
    plan = plans.plan_update(_row(rt, token), desired, expiry=14)
    assert set(plan.changes) == {
        "alias",
        "models",
        "max_budget",
        "soft_budget",
        "budget_period",
        "rpm_limit",
        "tpm_limit",
        "expires",
    }
    _apply(rt, plan)
    info = _info(proxy, token)
    assert info["key_alias"] == f"edited-{RUN}"
    assert sorted(info["models"]) == ["gpt-4o", "gpt-4o-mini"]
    assert (info["max_budget"], info["budget_duration"], info["rpm_limit"], info["tpm_limit"]) == (3.5, "7d", 7, None)
    assert info["litellm_budget_table"]["soft_budget"] == 2.0  # where LiteLLM 1.108 keeps it
    assert info["expires"] is not None
    row = _row(rt, token)
    assert plans.KeySettings.of_key(row) == desired
    assert pd.notna(row["expires"]) and row["expires"].isoformat()[:13] == info["expires"][:13]

    with pytest.raises(plans.KeyInputError, match="Nothing to change"):
        plans.plan_update(row, desired)
    _apply(rt, plans.plan_update(row, desired, expiry=plans.NEVER))
    assert _info(proxy, token)["expires"] is None


def test_a_deleted_key_is_listed_as_deleted_and_refused(rt, proxy):
    plaintext, token = _create(rt, "gone")
    assert _chat(proxy, plaintext).status_code == 200
    row = _row(rt, token)
    with pytest.raises(plans.KeyInputError, match="nothing was deleted"):
        plans.plan_delete(row, "not the alias")
    assert not _info(proxy, token).get("blocked")  # still there, untouched

    outcome = _apply(rt, plans.plan_delete(row, f"gone-{RUN}"))
    assert outcome.key.deleted_at is not None
    deleted = proxy.get("/key/list", params={"status": "deleted", "key_hash": token, "return_full_object": "true"})
    assert [k["token"] for k in deleted.json()["keys"]] == [token]
    live = proxy.get("/key/list", params={"key_hash": token, "return_full_object": "true"})
    assert live.json()["keys"] == []
    assert _chat(proxy, plaintext).status_code == 401
    assert _row(rt, token)["status"] == "deleted"
    with pytest.raises(plans.KeyInputError, match="is deleted"):
        plans.plan_block(_row(rt, token))


def test_a_replaced_key_is_copied_with_its_settings_and_the_old_one_blocked(rt, proxy):
    old_plaintext, token = _create(rt, "old", max_budget=8.0, soft_budget=4.0, budget_period="1d", rpm_limit=50)
    outcome = _apply(rt, plans.plan_replace(_row(rt, token), f"new-{RUN}"))
    new_plaintext = outcome.plaintext.get_secret_value()
    assert outcome.warning is None and outcome.replaced.blocked is True
    new, old = _info(proxy, outcome.key.token), _info(proxy, token)
    for field in ("models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "user_id", "team_id"):
        assert new[field] == old[field], field
    assert new["litellm_budget_table"]["soft_budget"] == 4.0
    assert (new["key_alias"], old["blocked"]) == (f"new-{RUN}", True)
    assert _chat(proxy, new_plaintext).status_code == 200
    assert _chat(proxy, old_plaintext).status_code == 401
    row = list_audit(rt.engine, action="keys.replace").iloc[0]
    assert row["details"]["new_hash"] == outcome.key.token and row["details"]["hash"] == token
    assert old_plaintext not in list_audit(rt.engine).to_json() and new_plaintext not in list_audit(rt.engine).to_json()


def test_every_key_is_read_across_pages_read_side_by_side(rt, proxy):
    for i in range(3):
        _create(rt, f"page{i}")
    expected = set()
    page = 1
    while True:  # LiteLLM's own listing, one page at a time
        body = proxy.get("/key/list", params={"page": page, "size": MAX_PAGE_SIZE}).json()
        expected |= set(body["keys"])
        if page >= body["total_pages"]:
            break
        page += 1
    deleted = proxy.get("/key/list", params={"status": "deleted", "size": MAX_PAGE_SIZE}).json()
    with rt.litellm_client() as client:
        keys, requests = fetch_keys(client, concurrency=3, page_size=2)  # many small pages
    live = [k.token for k in keys if k.deleted_at is None]
    assert sorted(live) == sorted(expected) and len(live) == len(set(live))
    assert {k.token for k in keys if k.deleted_at is not None} == set(deleted["keys"])
    assert requests >= len(expected) // 2


def test_a_viewer_key_may_read_keys_but_changes_are_refused_with_the_reason(rt, proxy, litellm_harness, tmp_path):
    user = proxy.post("/user/new", json={"user_id": f"viewer-{RUN}", "user_role": "proxy_admin_viewer"})
    assert user.status_code == 200, user.text
    viewer_key = proxy.post("/key/generate", json={"user_id": f"viewer-{RUN}"}).json()["key"]
    viewer = Runtime(
        load_settings(
            {
                "LITELLM_BASE_URL": litellm_harness["LITELLM_BASE_URL"],
                "LITELLM_API_KEY": viewer_key,
                "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
                "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
            },
            secrets_path=None,
        )
    )
    try:
        assert len(viewer.key_snapshots.get(viewer.litellm_client).keys) > 0
        plan = plans.plan_create(plans.KeySettings.of(alias=f"denied-{RUN}"))
        with (
            viewer.litellm_client() as client,
            pytest.raises(Exception, match="changing LiteLLM needs LITELLM_API_KEY to be the master key") as err,
        ):
            plans.apply_plan(viewer.engine, client, ADMIN, plan)
        row = list_audit(viewer.engine, action="keys.create").iloc[0]
        assert (row["outcome"], row["details"]["error"]) == ("failure", str(err.value))
    finally:
        viewer.close()
    listed = proxy.get("/key/list", params={"key_alias": f"denied-{RUN}"}).json()
    assert listed["keys"] == []
