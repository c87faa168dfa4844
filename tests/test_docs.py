"""README.md keeps up with the code: every setting in its Settings table, every command-line subcommand in a
`python -m lib.cli ...` line, and every file or folder of the code it names exists."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from lib.cli import build_parser
from lib.core.settings import SETTINGS_SPEC, settings_table_markdown

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    """The text of the README's `## title` section."""
    parts = re.split(rf"^## {re.escape(title)}\n", README, flags=re.M)
    assert len(parts) == 2, f"README.md has no single '## {title}' section"
    return parts[1].split("\n## ", 1)[0]


def settings_table_names(text: str) -> set[str]:
    """The variables named in the first column of a markdown table."""
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", text, flags=re.M))


def subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every subcommand path of `parser`, nested ones included (("models", "sync") for `prog models sync`)."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(prefix + (name,))
                found += subcommands(sub, prefix + (name,))
    return found


def settings_table_problems(text: str) -> list[str]:
    """What is wrong with the README's Settings section `text`: a setting missing or unknown, or tables that are
    not the ones generated from the settings' one description (lib.core.settings.SETTINGS_SPEC)."""
    documented = settings_table_names(text)
    problems = []
    if missing := sorted(set(SETTINGS_SPEC) - documented):
        problems.append(f"README.md's Settings table lacks {missing}")
    if unknown := sorted(documented - set(SETTINGS_SPEC)):
        problems.append(f"README.md's Settings table lists {unknown}, which are not settings")
    if settings_table_markdown() not in text:
        problems.append("README.md's Settings tables differ from `python -m lib.core.settings`: paste its output")
    return problems


def test_every_setting_is_in_the_settings_table():
    assert not settings_table_problems(section("Settings"))


def test_the_settings_checker_names_a_setting_missing_from_the_readme():
    text = section("Settings")
    row = next(line for line in text.splitlines() if line.startswith("| `REFRESH_INTERVAL_MINUTES` |"))
    problems = settings_table_problems(text.replace(row + "\n", ""))
    assert problems[0] == "README.md's Settings table lacks ['REFRESH_INTERVAL_MINUTES']"
    assert "differ" in problems[-1]
    edited = text.replace("how often today is re-fetched", "how often today is fetched")  # a hand edit
    assert settings_table_problems(edited) == [
        "README.md's Settings tables differ from `python -m lib.core.settings`: paste its output"
    ]


def test_every_cli_subcommand_is_in_the_readme():
    commands = subcommands(build_parser())
    assert len(commands) >= 8
    missing = [" ".join(c) for c in commands if not re.search(rf"python -m lib\.cli {' '.join(c)}\b", README)]
    assert not missing, f"README.md shows no `python -m lib.cli ...` line for {missing}"


def test_subcommands_walks_nested_parsers():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    sub.add_parser("export")
    models = sub.add_parser("models").add_subparsers()
    models.add_parser("sync")
    models.add_parser("test")
    assert subcommands(parser) == [("export",), ("models",), ("models", "sync"), ("models", "test")]


def test_the_settings_table_reader_sees_rows_only():
    table = "| variable | default |\n| --- | --- |\n| `DEMO_SEED` | 42 |\nsee `ADMIN_USERNAME` above\n"
    assert settings_table_names(table) == {"DEMO_SEED"}


def test_every_code_path_the_readme_names_exists():
    # data/ and .streamlit/secrets.toml are runtime files: only the code's paths must exist in a checkout
    paths = set(re.findall(r"`((?:app\.py|lib|pages|tests)(?:/[\w.-]+)*/?)`", README))
    assert {"lib/core/", "tests/bench/"} <= paths, sorted(paths)
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"README.md names {missing}, which do not exist"
