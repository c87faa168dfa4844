"""The Providers page in demo mode: its figures against the usage store's own rows (an independent pandas
recomputation), the average cost per 1M tokens, the demo proxy restored after a restart, and the page itself
(AppTest: cards, the Add / Configure / Delete dialogs, read-only, empty state, 403)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from lib.core.clock import utcnow
from lib.core.formatting import kpi_value, unit_money
from lib.core.text_safety import markdown_literal
from lib.providers import demo, service, stats
from lib.providers.records import ProviderInput
from lib.runtime import Runtime
from lib.ui.providers import READ_ONLY_HINT
from tests.support.apptest import app_as, app_runtime, demo_settings

KEY = "sk-page-Secret0123456789abcdef"


@pytest.fixture(scope="module")
def seeded(demo_env):
    """The demo app (40 days of usage) with the demo's first-start providers and two more that share LiteLLM
    providers and public names with them: openai-backup (priority 70, after openai-prod's 50 on gpt-4o) and
    local-mini, an OpenAI-compatible endpoint (LiteLLM's "openai") at priority 10 on gpt-4o-mini."""
    rt = app_runtime(demo_env)
    assert demo.seed(rt)
    service.add_provider(
        rt, None, ProviderInput("openai-backup", "openai", api_key=KEY, priority=70), [("gpt-4o", "gpt-4o")]
    )
    service.add_provider(
        rt,
        None,
        ProviderInput("local-mini", "openai_compatible", api_key=KEY, api_base="http://127.0.0.1:9/v1", priority=10),
        [("gpt-4o-mini", "gpt-4o-mini")],
    )
    return demo_env


def stored_rows(rt) -> pd.DataFrame:
    """Every row of the usage store, read from its Parquet day files with pandas (not through its queries)."""
    df = pd.read_parquet(rt.settings.store_dir / "days")
    df["date"] = pd.to_datetime(df["date"]).dt.date
    return df


def expected(rows: pd.DataFrame, views, start, end) -> dict[str, dict]:
    """The rule, restated: a provider's traffic is the model-group rows of its public names whose provider is its
    type's LiteLLM provider (OpenAI-compatible: "openai"); a (LiteLLM provider, public name) that several providers
    serve counts once, for the enabled one with the lowest priority number (ties by name)."""
    litellm = {"openai_compatible": "openai"}
    owner = {}
    for v in sorted(views, key=lambda v: (not v.enabled, v.priority, v.name)):
        for m in v.models:
            owner.setdefault((litellm.get(v.type, v.type), m.public_name), v.name)
    groups = rows[(rows["dim"] == "model_group") & (rows["date"] >= start) & (rows["date"] <= end)]
    out = {}
    for v in views:
        pairs = [pair for pair, name in owner.items() if name == v.name]
        mine = groups[[(p, g) in pairs for p, g in zip(groups["provider"], groups["value"])]]
        requests, timed = int(mine["api_requests"].sum()), int(mine["timed_requests"].sum())
        out[v.name] = {
            "requests": requests,
            "spend": float(mine["spend"].sum()),
            "success_rate": mine["successful_requests"].sum() * 100 / requests if requests else None,
            "avg_latency_ms": mine["total_response_time_ms"].sum() / timed if timed else None,
            "prompt_tokens": int(mine["prompt_tokens"].sum()),
            "completion_tokens": int(mine["completion_tokens"].sum()),
        }
    return out


def test_cards_30_day_figures_equal_the_stores_rows_of_each_providers_public_names(seeded):
    rt = app_runtime(seeded)
    views = service.list_providers(rt)
    today = utcnow().date()
    start, end = stats.window(today)
    want = expected(stored_rows(rt), views, start, end)
    got = stats.provider_stats(rt.store, views, start, end)
    for name, w in want.items():
        g = got[name]
        assert (g.requests, g.prompt_tokens, g.completion_tokens) == (
            w["requests"],
            w["prompt_tokens"],
            w["completion_tokens"],
        ), name
        assert g.spend == pytest.approx(w["spend"], rel=1e-9, abs=1e-9), name
        for metric in ("success_rate", "avg_latency_ms"):
            assert getattr(g, metric) == (pytest.approx(w[metric], rel=1e-9) if w[metric] is not None else None)
    # the shared names went to the first provider LiteLLM asks: openai-prod keeps gpt-4o, local-mini takes gpt-4o-mini
    assert got["openai-prod"].requests > 0 and got["local-mini"].requests > 0 and got["openai-backup"].requests == 0
    assert got["anthropic-prod"].requests > 0 and got["azure-backup"].requests == 0

    cards = {c.label: c for c in stats.header_cards(rt.store, views, today)}
    # the trend compares like with like: the 29 whole days before today (partial) with the 29 days before them
    whole = expected(stored_rows(rt), views, start, today - timedelta(days=1))
    before = expected(stored_rows(rt), views, start - timedelta(days=29), start - timedelta(days=1))
    calls = cards["API calls (30 d)"]
    assert calls.current == sum(w["requests"] for w in want.values())
    assert calls.compared == sum(w["requests"] for w in whole.values())
    assert calls.previous == sum(w["requests"] for w in before.values())
    assert calls.change_pct == pytest.approx((calls.compared - calls.previous) / calls.previous * 100)
    assert cards["Cost (30 d)"].current == pytest.approx(sum(w["spend"] for w in want.values()), rel=1e-9)
    assert cards["Providers configured"].current == 5


def test_average_cost_per_1m_tokens_is_weighted_by_the_token_mix_where_there_was_traffic():
    prices = {"big": (3e-6, 15e-6), "small": (0.15e-6, 0.6e-6), "idle": (30e-6, 60e-6)}
    # 1M prompt + 1M completion tokens of big, 2M prompt of small; idle had none, so it does not count
    tokens = {"big": (1_000_000, 1_000_000), "small": (2_000_000, 0)}
    cost = 1 * 3 + 1 * 15 + 2 * 0.15  # dollars
    assert stats.avg_cost_per_1m(prices, tokens) == pytest.approx(cost / 4)
    # no traffic at all: the plain mean of each model's (input + output) / 2
    assert stats.avg_cost_per_1m(prices, {}) == pytest.approx(((3 + 15) / 2 + (0.15 + 0.6) / 2 + 45) / 3)
    # a model without a price is left out; a free one counts (a local model lowers the average)
    assert stats.avg_cost_per_1m({"a": (None, None), "b": (1e-6, 1e-6)}, {"a": (10**9, 0), "b": (10, 10)}) == (
        pytest.approx(1.0)
    )
    assert stats.avg_cost_per_1m({"free": (0.0, 0.0), "b": (2e-6, 2e-6)}, {"free": (3, 0), "b": (1, 0)}) == (
        pytest.approx(0.5)
    )
    assert stats.avg_cost_per_1m({"a": (None, None)}, {}) is None


def test_after_a_restart_the_new_demo_proxy_serves_the_consoles_providers_again(tmp_path):
    settings = demo_settings(tmp_path)
    first = Runtime(settings)
    demo.seed(first)
    service.add_provider(first, None, ProviderInput("acme", "openai", api_key=KEY, priority=5), [("gpt-4o", "gpt-4o")])
    first.close()

    again = Runtime(settings)  # the demo proxy lives in memory: this one starts without them
    try:
        views = service.list_providers(again)
        assert {v.name: v.status for v in views} == {
            "acme": "active",
            "anthropic-prod": "active",
            "azure-backup": "active",
            "openai-prod": "active",
        }
        assert all(m.state == "serving" for v in views for m in v.models)
        assert service.preview_plan(again).empty
        credentials = again.demo_litellm().admin._credentials
        assert credentials["acme"]["credential_values"]["api_key"] == KEY  # pushed again, from the stored key
        assert not demo.seed(again)  # the first start's seed is done once
    finally:
        again.close()


# -- the page (AppTest) ------------------------------------------------------------------------------------------
def buttons(at, prefix: str = "prov_"):
    return [b for b in at.button if (b.key or "").startswith(prefix)]


def test_admin_sees_a_card_per_provider_with_its_figures_and_the_failover_rule(seeded):
    at = app_as(seeded, "admin", "pages/providers.py")
    rt = app_runtime(seeded)
    views = service.list_providers(rt)
    figures = stats.provider_stats(rt.store, views, *stats.window(utcnow().date()))
    text = " ".join(m.value for m in at.markdown)
    for v in views:
        assert at.button(key=f"prov_cfg_{v.name}").disabled is False
    shown = [m.value for m in at.markdown]
    assert f"**{markdown_literal(kpi_value('requests', figures['openai-prod'].requests))}**" in shown
    assert f"**{markdown_literal(kpi_value('spend', figures['anthropic-prod'].spend))}**" in shown
    captions = " ".join(c.value for c in at.caption)
    assert markdown_literal(service.FAILOVER_RULE) in captions
    for v in views:  # a price per 1M tokens written by unit_money: its small figure stays ("—" without prices)
        assert markdown_literal(f"avg {unit_money(figures[v.name].avg_cost_per_1m)} per 1M tokens") in captions
    assert not {"None", "nan"} & set(captions.replace("·", " ").split())
    # a key given on the page: an exported config.yaml reads it from the derived variable, said on the card
    assert markdown_literal("config.yaml reads it from OPENAI_BACKUP_API_KEY") in captions
    assert "mistral" in text and "Adopt 1 provider(s)" in [b.label for b in at.button]
    assert KEY not in str(at.main) and KEY not in repr(at.session_state)


def test_a_read_only_admin_sees_everything_with_every_action_disabled(seeded):
    at = app_as(seeded, "viewer", "pages/providers.py")
    actions = buttons(at)
    assert len(actions) >= 5 * 4 + 2  # four per card, Add and Adopt
    assert all(b.disabled and b.help == READ_ONLY_HINT for b in actions)


def test_a_user_gets_403(seeded):
    at = app_as(seeded, "alice", "pages/providers.py")
    assert [e.value for e in at.error] == ["403 — admin access required"]
    assert not buttons(at)


def test_add_test_configure_and_delete_through_the_dialogs(seeded):
    at = app_as(seeded, "admin", "pages/providers.py")
    at.button(key="prov_add").click().run()
    at.selectbox(key="prov_f_type").set_value("ollama").run()
    assert at.text_input(key="prov_f_base").value == "http://localhost:11434"  # the type's default
    at.text_input(key="prov_f_name").input("lab-ollama").run()
    at.text_input(key="prov_f_base").input("http://127.0.0.1:9").run()
    at.button(key="prov_f_test_btn").click().run()
    assert any("Cannot contact" in e.value for e in at.error)  # the failure class, in the dialog
    at.multiselect(key="prov_f_models").set_value(["llama3"]).run()
    at.text_input(key="prov_f_public::llama3").input("llama3-lab").run()
    plan = [m.value for m in at.markdown if "Create deployment" in m.value]
    assert plan and "llama3\\-lab → ollama\\/llama3 on lab\\-ollama" in plan[0]  # the preview before Save
    at.button(key="prov_f_save").click().run()
    assert not at.exception
    assert any("Added lab\\-ollama" in s.value for s in at.success)
    rt = app_runtime(seeded)
    dep = [d for d in rt.demo_litellm().admin._deployments.values() if d["model_name"] == "llama3-lab"]
    assert [d["litellm_params"]["model"] for d in dep] == ["ollama/llama3"]

    at.button(key="prov_cfg_lab-ollama").click().run()
    assert at.number_input(key="prov_f_priority").value == 50
    at.number_input(key="prov_f_priority").set_value(20).run()
    at.button(key="prov_f_save").click().run()
    assert any("Saved lab\\-ollama" in s.value for s in at.success)
    assert {v.name: v.priority for v in service.list_providers(rt)}["lab-ollama"] == 20

    at.button(key="prov_del_lab-ollama").click().run()
    listed = " ".join(m.value for m in at.markdown)
    assert "Delete deployment llama3\\-lab" in listed and "Delete credential lab\\-ollama" in listed
    at.button(key="prov_del_confirm").click().run()
    assert any("Deleted lab\\-ollama" in s.value for s in at.success)
    assert "lab-ollama" not in {v.name for v in service.list_providers(rt)}
    assert not [d for d in rt.demo_litellm().admin._deployments.values() if d["model_name"] == "llama3-lab"]


def test_without_providers_the_page_says_so_and_offers_add(tmp_path):
    settings = demo_settings(tmp_path)
    rt = app_runtime(settings)
    from lib.auth import accounts

    accounts.bootstrap_accounts(rt.engine, settings)
    demo.seed(rt)
    for v in service.list_providers(rt):
        service.delete_provider(rt, None, v.name)
    at = app_as(settings, "admin", "pages/providers.py")
    assert any("No providers configured yet" in m.value for m in at.markdown)
    assert at.button(key="prov_add_empty").disabled is False
    assert "Adopt 1 provider(s)" in [b.label for b in at.button]  # mistral-eu: still LiteLLM's own
