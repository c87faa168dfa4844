"""Ingest from the real LiteLLM proxy equals LiteLLM's own aggregated totals, to the cent and the token."""

from __future__ import annotations

from datetime import date

import pytest

from lib.litellm.client import LiteLLMAuthError, LiteLLMClient
from lib.usage.ingest import backfill
from lib.usage.queries import Filters, breakdown
from lib.usage.store import UsageStore
from tests.support.litellm_harness import (
    aggregated_oracle,
    assert_equals_litellm_aggregated,
    recent_range,
    wait_until_settled,
)

pytestmark = pytest.mark.litellm


@pytest.fixture(scope="module")
def client(litellm_harness):
    c = LiteLLMClient(litellm_harness["LITELLM_BASE_URL"], litellm_harness["LITELLM_MASTER_KEY"], timeout_s=30)
    wait_until_settled(c)
    yield c
    c.close()


def _oracle(client) -> tuple[dict, dict]:
    return aggregated_oracle(client, *recent_range())


@pytest.mark.parametrize("page_size", [1000, 2])
def test_ingest_equals_litellm_aggregated(client, tmp_path, page_size):
    start, end = recent_range()
    store = UsageStore(tmp_path / "store")
    summary = backfill(client, store, start, end, page_size=page_size, concurrency=2)
    if page_size == 2:
        assert summary.pages > 3, "a tiny page size must split the day across pages"

    assert_equals_litellm_aggregated(store, client, start, end)


def test_filter_by_api_key_alias_matches_litellm_key_totals(client, litellm_harness, tmp_path):
    start, end = recent_range()
    store = UsageStore(tmp_path / "store")
    backfill(client, store, start, end, page_size=5)
    _, per_dim = _oracle(client)
    key = litellm_harness["traffic"]["keys"][0]
    f = Filters.of(api_keys=[key["hash"]])
    by_model = breakdown(store, start, end, f, by="model")
    # the key's per-model split summed is the key's own total in LiteLLM
    assert by_model["requests"].sum() == per_dim["api_keys"][key["hash"]]["api_requests"]
    assert by_model["spend"].sum() == pytest.approx(per_dim["api_keys"][key["hash"]]["spend"], abs=1e-9)
    user = key["user_id"]
    by_key = breakdown(store, start, end, Filters.of(users=[user]), by="api_key")
    assert set(by_key["api_key"]) <= {k["hash"] for k in litellm_harness["traffic"]["keys"] if k["user_id"] == user}
    assert by_key["requests"].sum() == per_dim["entities"][user]["api_requests"]


def test_wrong_key_is_an_auth_error(litellm_harness):
    with LiteLLMClient(litellm_harness["LITELLM_BASE_URL"], "sk-wrong", timeout_s=10) as bad:
        with pytest.raises(LiteLLMAuthError) as err:
            bad.daily_activity_body(date.today(), date.today())
    assert "sk-wrong" not in str(err.value)


def test_reingest_changes_nothing(client, tmp_path):
    start, end = recent_range()
    store = UsageStore(tmp_path / "store")
    backfill(client, store, start, end, page_size=7)
    before = store.query("SELECT * FROM activity ORDER BY ALL")
    backfill(client, store, start, end, page_size=7, force=True)
    assert before.equals(store.query("SELECT * FROM activity ORDER BY ALL")), "same pages, same bytes"

    # Other page boundaries: LiteLLM sums each page's rows in its own order, so a float total may differ in
    # the last bit (0.0032052999999999995 against 0.0032053); everything else stays identical.
    backfill(client, store, start, end, page_size=3, force=True)
    after = store.query("SELECT * FROM activity ORDER BY ALL")
    floats = [c for c in before.columns if before[c].dtype.kind == "f"]
    assert floats, "spend is a float column"
    assert before.drop(columns=floats).equals(after.drop(columns=floats))
    for c in floats:
        assert after[c].to_numpy() == pytest.approx(before[c].to_numpy(), rel=1e-12, abs=1e-15), c
