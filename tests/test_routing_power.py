"""Power levels' price per 1M tokens and 30-day use (lib.routing.power, the Routing page).

The oracle is a recomputation from first principles: a candidate's prices per token as LiteLLM lists them
(/model/info), the prompt and completion tokens read straight from the usage store's day files (pyarrow, not the
console's queries), and the definition (prompt × input + completion × output) / (prompt + completion) × 1e6."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from lib.core.clock import utcnow
from lib.core.formatting import unit_money
from lib.core.text_safety import markdown_literal
from lib.routing import power, service
from lib.routing.plan import RoutingActual
from lib.routing.state import parse_state
from lib.usage.store import UsageStore
from tests.support.apptest import app_as, app_runtime
from tests.support.usage_days import KeySpend, write_days


def dep(dep_id, name, model, order=None, **info):
    params = {"model": model} | ({"order": order} if order is not None else {})
    return {"model_name": name, "litellm_params": params, "model_info": {"id": dep_id, "db_model": True, **info}}


ACTUAL = RoutingActual.from_litellm(
    {"current_values": {}},
    [
        dep("mini", "team-small", "openai/gpt-4o-mini", input_cost_per_token=1.5e-7, output_cost_per_token=6e-7),
        dep("big-2", "team-large", "openai/gpt-4o", order=2, input_cost_per_token=2.5e-6, output_cost_per_token=1e-5),
        dep(
            "big-1",
            "team-large",
            "anthropic/claude-3-5-sonnet",
            order=1,
            input_cost_per_token=3e-6,
            output_cost_per_token=1.5e-5,
        ),  # fmt: skip
        dep("free", "local", "ollama/llama3", input_cost_per_token=0, output_cost_per_token=0),
        dep("unpriced", "mystery", "openai/mystery"),
    ],
)


def recompute(pin: float, pout: float, prompt: int, completion: int) -> float:
    return (prompt * pin + completion * pout) / (prompt + completion) * 1_000_000


def test_a_levels_price_is_its_first_candidates_weighted_by_the_traffics_token_mix():
    state = parse_state({"power_levels": {"eco": ["team-small", "local"], "precision": ["team-large", "team-small"]}})
    use = {"eco": power.GroupUse(1234, 5.5), "team-small": power.GroupUse(99, 1.0)}
    mix = power.TokenMix.of(7_000_000, 1_500_000)
    figures = {f.level: f for f in power.level_figures(state, ACTUAL, use, mix)}
    assert list(figures) == ["eco", "precision"]
    eco, precision = figures["eco"], figures["precision"]
    assert eco.per_1m == pytest.approx(recompute(1.5e-7, 6e-7, 7_000_000, 1_500_000))
    assert [c.per_1m for c in eco.candidates] == [pytest.approx(eco.per_1m), 0.0]
    # a group's price is its first-serving deployment's (order 1), as the level's copy of it is
    assert precision.candidates[0].litellm_model == "anthropic/claude-3-5-sonnet"
    assert precision.per_1m == pytest.approx(recompute(3e-6, 1.5e-5, 7_000_000, 1_500_000))
    assert (eco.requests, eco.spend) == (1234, 5.5) and (precision.requests, precision.spend) == (0, 0.0)
    assert "7,000,000 input and 1,500,000 output tokens" in mix.describe()


def test_without_traffic_the_default_mix_is_used_and_said_and_an_unknown_price_stays_unknown():
    mix = power.TokenMix.of(0, 0)
    assert not mix.from_traffic and "default mix of 3 input tokens per 1 output token" in mix.describe()
    state = parse_state({"power_levels": {"balanced": ["mystery", "team-small"], "eco": ["team-small"]}})
    figures = {f.level: f for f in power.level_figures(state, ACTUAL, {}, mix)}
    assert figures["balanced"].per_1m is None  # never a guess from the next candidate
    assert figures["eco"].per_1m == pytest.approx(recompute(1.5e-7, 6e-7, 3, 1))


def test_the_30_day_use_of_a_level_is_its_groups_requests_and_spend_in_the_store(tmp_path):
    store = UsageStore(tmp_path / "usage")
    today = date(2026, 3, 31)
    inside, edge, outside = today - timedelta(days=3), today - timedelta(days=29), today - timedelta(days=30)
    write_days(
        store,
        {
            inside: [KeySpend("k1", 1.25, model_group="eco", requests=4), KeySpend("k2", 9.0, requests=2)],
            edge: [KeySpend("k1", 0.5, model_group="eco", requests=1)],
            outside: [KeySpend("k1", 100.0, model_group="eco", requests=50)],
        },
    )
    use, mix = service.usage_of_groups(store, today)
    assert (use["eco"].requests, use["eco"].spend) == (5, pytest.approx(1.75))
    assert use["gpt-4o"].requests == 2
    assert not mix.from_traffic  # these days carry no prompt / completion split


def store_tokens(store_dir, start: date, end: date) -> tuple[int, int]:
    """Prompt and completion tokens of the model-group rows of [start, end], read from the day files."""
    table = ds.dataset(str(store_dir / "days"), format="parquet").to_table(
        columns=["date", "dim", "prompt_tokens", "completion_tokens"]
    )
    mask = pc.and_(
        pc.equal(table["dim"], "model_group"),
        pc.and_(pc.greater_equal(table["date"], start), pc.less_equal(table["date"], end)),
    )
    rows = table.filter(mask)
    return pc.sum(rows["prompt_tokens"]).as_py() or 0, pc.sum(rows["completion_tokens"]).as_py() or 0


def litellm_price(rt, group: str) -> tuple[float, float]:
    """The group's first deployment's prices as LiteLLM's /model/info lists them."""
    client = rt.litellm_client()
    try:
        entries = [m.model_dump() for m in client.model_info().data if m.model_name == group]
    finally:
        client.close()
    first = min(entries, key=lambda m: (m["litellm_params"].get("order") or 0, m["model_info"]["id"]))
    return first["model_info"]["input_cost_per_token"], first["model_info"]["output_cost_per_token"]


def test_the_page_shows_each_levels_price_per_1m_as_recomputed_from_prices_and_the_stores_tokens(demo_env):
    rt = app_runtime(demo_env)
    service.set_desired(rt, None, {"power_levels": {"eco": ["gpt-4o-mini", "gpt-4o"], "precision": ["gpt-4o"]}})
    at = app_as(demo_env, "admin", "pages/routing.py")
    assert not at.exception
    table = next(d.value for d in at.dataframe if "Price per 1M tokens" in d.value.columns).set_index("Level")
    today = utcnow().date()
    prompt, completion = store_tokens(rt.store.dir, today - timedelta(days=29), today)
    assert prompt > 0 and completion > 0  # the demo's traffic: the mix is real, not the default
    for level, group in (("eco", "gpt-4o-mini"), ("precision", "gpt-4o")):
        expected = recompute(*litellm_price(rt, group), prompt, completion)
        assert table.loc[level, "Price per 1M tokens"] == unit_money(expected)  # the one rule for prices per 1M
    captions = " ".join(c.value for c in at.caption)
    assert markdown_literal(f"{prompt:,} input and {completion:,} output tokens") in captions
    assert table.loc["eco", "Requests (30 d)"] == "0"  # nobody has called `eco` in the demo's history
