"""routing.yaml as code without a LiteLLM: the document round-trips, and a bad file is refused by `routing import`
with its line and field, exit 2, and nothing stored (the CLI as a subprocess, as an operator runs it)."""

from __future__ import annotations

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
