"""routing.yaml as code without a LiteLLM: the document round-trips, and a bad file is refused by `routing import`
with its line and field, exit 2, and nothing stored (the CLI as a subprocess, as an operator runs it)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lib.core.settings import Settings
from lib.providers.records import Provider, ProviderModel
from lib.routing.document import dump_yaml, export_document, load_document
from lib.routing.state import RoutingInputError, parse_state

ROOT = Path(__file__).resolve().parent.parent
README_EXAMPLE = ROOT / "README.md"


def full_example() -> str:
    """The README's full routing.yaml example."""
    text = README_EXAMPLE.read_text()
    start = text.index("A full routing.yaml:")
    block = text[start:].split("```yaml\n", 1)[1].split("```", 1)[0]
    return block


def test_the_readmes_example_loads_and_round_trips_through_export():
    state = load_document(full_example())
    assert state.strategy == "cost" and state.use_cases[0].temperature == 0.1
    provider = Provider("acme", "openai_compatible", "http://llm.internal/v1", models=(ProviderModel("a", "b"),))
    text = dump_yaml(export_document(state, [provider]))
    assert "sk-" not in text and yaml.safe_load(text)["providers"][0]["models"] == {"a": "b"}
    assert load_document(text) == state


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "routing:\n  use_cases:\n  - name: x\n    model: m\n    temperature: 3\n",
            "line 5: routing.use_cases[0].temperature",
        ),
        ("routing:\n  strategy: fastest\n", "line 2: routing.strategy"),
        ("routing:\n  fallbacks:\n  - {group: a, fallbacks: [b]}\n  - {group: b, fallbacks: [a]}\n", "cycle"),
        ("routing: [\n", "not valid YAML"),
        ("providers: []\n", "line 1: the document needs a `routing:` mapping"),
    ],
)
def test_a_bad_document_names_its_line_and_field(text, expected):
    with pytest.raises(RoutingInputError) as exc:
        load_document(text)
    assert expected in str(exc.value)


def test_routing_import_of_a_bad_file_exits_2_and_stores_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    env |= {
        "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
        "LITELLM_BASE_URL": "",
        "BACKGROUND_SERVICES": "false",
        "PYTHONPATH": str(ROOT),
    }

    def cli(*args):
        run = [sys.executable, "-m", "lib.cli", "routing", *args]
        return subprocess.run(run, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)

    exported = tmp_path / "exported.yaml"
    assert cli("export", "--output", str(exported)).returncode == 0
    assert load_document(exported.read_text()) == parse_state({})
    bad = tmp_path / "routing.yaml"
    bad.write_text("routing:\n  aliases:\n    fast: fast\n")
    proc = cli("import", "--file", str(bad))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == ["error: line 3: routing.aliases: fast: an alias cannot point at itself"]
    with sqlite3.connect(tmp_path / "app.db") as db:
        assert db.execute("select count(*) from routing_state").fetchone() == (0,)


def test_litellm_config_names_the_variable_given_to_providers_add_and_lists_every_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    env |= {
        "DUCKDB_PATH": str(tmp_path / "usage.duckdb"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
        "LITELLM_BASE_URL": "",
        "BACKGROUND_SERVICES": "false",
        "PYTHONPATH": str(ROOT),
        "ACME_PROD_KEY": "sk-acme-secret-0123456789",
    }

    def cli(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "lib.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=180
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    cli("providers", "add", "--name", "acme-eu", "--type", "openai_compatible", "--api-base",
        "http://llm.internal/v1", "--api-key-env", "ACME_PROD_KEY", "--model", "team-x=model-x")  # fmt: skip
    listed = {p["name"]: p for p in cli("providers", "list")}
    assert (listed["acme-eu"]["api_key_env"], listed["acme-eu"]["key_variable"]) == ("ACME_PROD_KEY", "ACME_PROD_KEY")
    out = cli("litellm-config", "--output", str(tmp_path / "config.yaml"))
    text = (tmp_path / "config.yaml").read_text()
    assert "sk-acme-secret" not in text and "sk-acme-secret" not in json.dumps(out)
    config = yaml.safe_load(text)
    acme = [m for m in config["model_list"] if m["model_name"] == "team-x"]
    assert [m["litellm_params"]["api_key"] for m in acme] == ["os.environ/ACME_PROD_KEY"]
    variables = {v["name"]: v for v in out["variables"]}
    assert variables["ACME_PROD_KEY"]["how"] == "given with --api-key-env"
    assert set(out["key_variables"]) == set(variables) and "LITELLM_MASTER_KEY" in variables
    # every os.environ reference in the file is listed, and the header comments name them too
    referenced = {
        str(v).removeprefix("os.environ/")
        for m in config["model_list"]
        for v in m["litellm_params"].values()
        if str(v).startswith("os.environ/")
    } | {"LITELLM_MASTER_KEY"}
    assert referenced == set(variables)
    # the demo's adopted providers were not added with --api-key-env: their names are derived, and said so
    derived = [v for v in out["variables"] if v["how"].startswith("derived")]
    assert derived and all(f"#   {v['name']}: " in text for v in out["variables"])
    for v in derived:
        provider = v["used_by"].removeprefix("provider ")
        if provider in listed:
            assert listed[provider]["api_key_env"] is None
            assert v["name"] == provider.upper().replace("-", "_") + "_API_KEY"
