"""The routing state (lib.routing.state): what an admin may set, and the message naming the field when not."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from lib.core.db import init_db
from lib.migrations import MIGRATIONS
from lib.routing.state import RoutingInputError, check_groups, parse_state
from lib.routing.store import load_routing, save_applied, save_desired

FULL = {
    "strategy": "cost",
    "fallbacks": [{"group": "gpt-4o", "type": "general", "fallbacks": ["gpt-4o-mini", "claude-3-5-haiku"]}],
    "aliases": {"fast-chat": "gpt-4o-mini"},
    "use_cases": [{"name": "sql-generation", "model": "gpt-4o", "temperature": 0.1, "max_tokens": 400}],
    "power_levels": {"eco": ["llama3-local", "gpt-4o-mini"], "precision": ["gpt-4o"]},
    "smart": {"enabled": True, "simple": "gpt-4o-mini", "complex": "gpt-4o", "fallback": "gpt-4o-mini"},
}


def refused(data) -> str:
    with pytest.raises(RoutingInputError) as exc:
        parse_state(data)
    return str(exc.value)


def test_a_full_state_parses_and_round_trips_through_json():
    state = parse_state(FULL)
    assert state.router_strategy() == "cost-based-routing"
    assert parse_state(state.model_dump(mode="json")) == state
    assert state.smart.tiers() == {
        "SIMPLE": "gpt-4o-mini",
        "MEDIUM": "gpt-4o",
        "COMPLEX": "gpt-4o",
        "REASONING": "gpt-4o",
    }
    assert state.use_cases[0].params() == {"temperature": 0.1, "max_tokens": 400}


def test_an_unknown_advanced_strategy_is_refused_naming_the_field():
    msg = refused({"strategy": "advanced", "advanced": {"routing_strategy": "fastest-please"}})
    assert msg.startswith("advanced.routing_strategy:") and "fastest-please" in msg
    ok = parse_state({"strategy": "advanced", "advanced": {"routing_strategy": "latency-based-routing"}})
    assert ok.router_strategy() == "latency-based-routing"


def test_a_fallback_cycle_is_refused_with_its_path():
    msg = refused(
        {
            "fallbacks": [
                {"group": "a", "fallbacks": ["b"]},
                {"group": "b", "fallbacks": ["c"]},
                {"group": "c", "fallbacks": ["a"]},
            ]
        }
    )
    assert "cycle" in msg and "a → b → c → a" in msg
    # the same groups in chains of different types do not cycle
    parse_state(
        {
            "fallbacks": [
                {"group": "a", "fallbacks": ["b"]},
                {"group": "b", "type": "context_window", "fallbacks": ["a"]},
            ]
        }
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"use_cases": [{"name": "sql", "model": "gpt-4o", "temperature": 2.5}]}, "use_cases[0].temperature"),
        ({"use_cases": [{"name": "sql", "model": "gpt-4o", "top_p": 1.2}]}, "use_cases[0].top_p"),
        ({"power_levels": {"turbo": ["gpt-4o"]}}, "power_levels"),
        ({"fallbacks": [{"group": "gpt-4o", "fallbacks": []}]}, "fallbacks[0].fallbacks"),
        ({"aliases": {"x": "x"}}, "aliases"),
        ({"smart": {"enabled": True, "simple": "a", "complex": "b"}}, "smart"),
        ({"strategy": "fastest"}, "strategy"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_input_names_the_field(data, field):
    assert refused(data).startswith(field)


def test_two_settings_claiming_one_public_name_are_refused():
    msg = refused({"aliases": {"eco": "gpt-4o"}, "power_levels": {"eco": ["gpt-4o-mini"]}})
    assert "'eco'" in msg and "aliases.eco" in msg


def test_references_to_unknown_groups_are_refused_and_routing_names_count_as_known():
    state = parse_state({"aliases": {"fast": "gpt-4o-mini"}, "fallbacks": [{"group": "fast", "fallbacks": ["nope"]}]})
    with pytest.raises(RoutingInputError, match=r"fallbacks\[0\]\.fallbacks: no model group named 'nope'"):
        check_groups(state, {"gpt-4o-mini"})
    check_groups(state, {"gpt-4o-mini", "nope"})


def test_the_store_keeps_desired_and_applied_apart():
    engine = create_engine("sqlite://")
    init_db(engine, MIGRATIONS)
    with engine.begin() as conn:
        assert load_routing(conn).applied is None
        save_desired(conn, parse_state({"strategy": "quality"}), "ann")
        stored = load_routing(conn)
        assert (stored.desired.strategy, stored.applied, stored.updated_by) == ("quality", None, "ann")
        save_applied(conn, parse_state(FULL), "bob")
        stored = load_routing(conn)
        assert stored.applied == stored.desired == parse_state(FULL) and stored.applied_by == "bob"
