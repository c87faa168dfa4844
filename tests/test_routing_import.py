"""Importing an operator's LiteLLM config.yaml (lib.routing.litellm_import, `routing import-litellm-config`): what
the file says becomes the console's providers and desired routing, keys only through their variables; a bad file
is refused naming its line and field, and nothing changes (the CLI as a subprocess, as an operator runs it)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lib.core.settings import Settings
from lib.routing.litellm_import import read_config
from lib.routing.state import RoutingInputError
from tests.support.litellm_harness import HARNESS

ROOT = Path(__file__).resolve().parent.parent

OPERATOR_CONFIG = """\
model_list:
  - model_name: team-large
    litellm_params: {model: openai/large-model, api_base: os.environ/ACME_BASE, api_key: os.environ/ACME_API_KEY}
  - model_name: team-small
    litellm_params:
      model: openai/small-model
      api_base: os.environ/ACME_BASE
      api_key: os.environ/ACME_API_KEY
      order: 2
  - model_name: team-small
    litellm_params: {model: anthropic/claude-3-5-haiku-20241022, api_key: os.environ/ANTHROPIC_KEY, order: 1}
  - model_name: local-llama
    litellm_params: {model: ollama/llama3, api_base: "http://gpu-box:11434"}
  - model_name: canned
    litellm_params: {model: openai/gpt-4o, mock_response: "hi"}
router_settings:
  routing_strategy: latency-based-routing
  routing_strategy_args: {ttl: 60}
  num_retries: 3
  cooldown_time: 30
  fallbacks: [{team-large: [team-small]}]
  context_window_fallbacks: [{team-small: [team-large]}]
  model_group_alias: {fast-chat: team-small}
litellm_settings:
  content_policy_fallbacks: [{team-small: [local-llama]}]
"""
ENV = {"ACME_BASE": "http://llm.internal/v1", "ACME_API_KEY": "sk-acme-0123456789", "ANTHROPIC_KEY": "sk-ant-0123"}


def test_an_operators_config_becomes_providers_and_routing_with_keys_only_through_their_variables():
    got = read_config(OPERATOR_CONFIG, ENV)
    providers = {p.input.name: p for p in got.providers}
    assert set(providers) == {"acme", "anthropic", "ollama-gpu-box-11434"}
    acme = providers["acme"]
    assert (acme.input.type, acme.input.api_base, acme.input.api_key_env, acme.input.api_key) == (
        "openai_compatible",
        "http://llm.internal/v1",
        "ACME_API_KEY",
        ENV["ACME_API_KEY"],
    )
    assert dict(acme.models) == {"team-large": "large-model", "team-small": "small-model"}
    # team-small's order (anthropic 1, acme 2) survives as the providers' priorities
    assert providers["anthropic"].input.priority < acme.input.priority
    assert providers["ollama-gpu-box-11434"].input.api_key is None
    assert [s.split(" ")[0] for s in got.skipped] == ["canned"]
    r = got.routing
    assert (r.strategy, r.advanced.routing_strategy, r.advanced.routing_strategy_args) == (
        "advanced",
        "latency-based-routing",
        {"ttl": 60},
    )
    assert (r.advanced.num_retries, r.advanced.cooldown_time) == (3, 30)
    assert {(c.group, c.type, c.fallbacks) for c in r.fallbacks} == {
        ("team-large", "general", ("team-small",)),
        ("team-small", "context_window", ("team-large",)),
        ("team-small", "content_policy", ("local-llama",)),
    }
    assert r.aliases == {"fast-chat": "team-small"}
    assert "sk-acme" not in json.dumps(got.summary())  # the summary names variables, never keys


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda t: t.replace("api_key: os.environ/ACME_API_KEY\n", "api_key: sk-live-123\n"),
            "line 8: model_list[1].litellm_params.api_key: a plaintext key is refused",
        ),
        (lambda t: t.replace("latency-based-routing", "fastest"), "routing_strategy"),
        (
            lambda t: t.replace("fallbacks: [{team-large: [team-small]}]", "fallbacks: [{team-large: team-small}]"),
            "router_settings.fallbacks[0].team-large: expected a list of model group names",
        ),
        (lambda t: t.replace("model: openai/large-model", "model: large-model"), "expected <provider>/<model>"),
        (lambda t: "router_settings: {}\n", "line 1: not a LiteLLM config: it needs a `model_list`"),
    ],
)
def test_a_bad_config_is_refused_naming_its_line_and_field(change, expected):
    with pytest.raises(RoutingInputError) as exc:
        read_config(change(OPERATOR_CONFIG), ENV)
    assert expected in str(exc.value)


def test_a_key_variable_not_set_here_is_refused_naming_it():
    with pytest.raises(RoutingInputError, match="ANTHROPIC_KEY, which is not set here"):
        read_config(OPERATOR_CONFIG, {k: v for k, v in ENV.items() if k != "ANTHROPIC_KEY"})


def test_the_cli_refuses_the_harness_config_with_its_plaintext_keys_and_changes_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    env |= {
        "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
        "LITELLM_BASE_URL": "",
        "BACKGROUND_SERVICES": "false",
        "PYTHONPATH": str(ROOT),
        "FAKE_OPENAI_BASE": "http://127.0.0.1:9/v1",
    }

    def cli(*args):
        run = [sys.executable, "-m", "lib.cli", *args]
        return subprocess.run(run, capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)

    def snapshot():
        with sqlite3.connect(tmp_path / "app.db") as db:
            return [db.execute(f"select * from {t} order by 1").fetchall() for t in ("providers", "routing_state")]

    assert cli("providers", "list").returncode == 0  # the console as it starts (demo mode adopts its providers)
    before = snapshot()
    proc = cli("routing", "import-litellm-config", "--file", str(HARNESS / "config.yaml"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: line 4: model_list[0].litellm_params.api_key: a plaintext key is refused: put it in an environment "
        "variable and write os.environ/NAME"
    ]
    assert snapshot() == before
