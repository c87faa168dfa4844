"""View state in the URL: links reproduce views; bad links degrade with a message, never widen access."""

from datetime import date

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from lib.usage.periods import PRESETS, preset_range
from lib.usage.queries import Filters
from lib.usage.view_state import ViewState, parse_query, restrict_to_user

OPTIONS = {
    "models": ["openai/gpt-4o", "anthropic/claude-3-5-haiku"],
    "providers": ["openai", "anthropic"],
    "users": ["alice", "bob"],
    "teams": ["team-a"],
    "model_groups": [],
    "api_keys": pd.DataFrame({"api_key": ["h1", "h2"], "key_alias": ["a-key", "b-key"], "owner": ["alice", "bob"]}),
}


def _as_params(q: dict) -> dict[str, list[str]]:
    return {k: v if isinstance(v, list) else [v] for k, v in q.items()}


@given(
    preset=st.sampled_from(list(PRESETS)),
    models=st.lists(st.sampled_from(OPTIONS["models"]), unique=True),
    users=st.lists(st.sampled_from(OPTIONS["users"]), unique=True),
    keys=st.lists(st.sampled_from(["h1", "h2"]), unique=True),
)
def test_a_link_reproduces_the_view(preset, models, users, keys):
    state = ViewState(preset=preset, filters=Filters.of(models=models, users=users, api_keys=keys))
    again = parse_query(_as_params(state.to_query()), OPTIONS)
    assert again.preset == preset and again.filters == state.filters and not again.problems


def test_custom_range_roundtrip_and_invalid_ranges():
    s = ViewState(preset="Custom", start=date(2026, 1, 1), end=date(2026, 3, 31))
    back = parse_query(_as_params(s.to_query()))
    assert back.range(date(2026, 11, 22), None) == (date(2026, 1, 1), date(2026, 3, 31))
    for bad in (
        {"range": ["Custom"], "start": ["2026-02-30"], "end": ["2026-03-01"]},
        {"range": ["Custom"], "start": ["2026-03-02"], "end": ["2026-03-01"]},
        {"range": ["1y"]},
    ):
        state = parse_query(bad)
        assert state.problems and state.preset == "7d"


def test_unknown_filter_values_are_dropped_with_a_message():
    state = parse_query({"model": ["openai/gpt-4o", "nope"], "key": ["zzz"]}, OPTIONS)
    assert state.filters.models == ("openai/gpt-4o",) and state.filters.api_keys == ()
    assert any("nope" in p for p in state.problems) and any("zzz" in p for p in state.problems)


def test_my_usage_filters_can_never_reach_another_user():
    asked = Filters.of(users=["bob"], api_keys=["h2", "h1"], models=["openai/gpt-4o"])
    f = restrict_to_user(asked, "alice", own_keys={"h1"})
    assert f.users == ("alice",) and f.api_keys == ("h1",) and f.models == ("openai/gpt-4o",)


def test_presets():
    today = date(2026, 11, 22)
    assert preset_range("Today", today) == (today, today)
    assert preset_range("7d", today) == (date(2026, 11, 16), today)
    assert preset_range("90d", today)[0] == date(2026, 8, 25)
    assert preset_range("All time", today, date(2024, 1, 1)) == (date(2024, 1, 1), today)


def test_keys_without_alias_or_owner_get_readable_labels():
    """A query frame holds missing text as NaN (pandas 3), which is truthy: labels must not trip on it."""
    import pandas as pd

    from lib.usage.view_state import api_key_labels

    keys = pd.DataFrame(
        {
            "api_key": ["litellm_proxy_master_key", "ab" * 32, "cd" * 32],
            "key_alias": [None, None, "ci-pipeline"],
            "owner": ["default_user_id", None, "bob"],
        }
    )
    keys = keys.astype({"key_alias": "str", "owner": "str"})
    assert api_key_labels(keys) == {
        "litellm_proxy_master_key": "LiteLLM master key (default_user_id)",
        "ab" * 32: "key …ababab",
        "cd" * 32: "ci-pipeline (bob)",
    }


def test_a_trend_compares_whole_days_only():
    from datetime import timedelta

    from lib.usage.periods import comparison

    today, first = date(2026, 12, 2), date(2026, 9, 1)
    week = comparison(today - timedelta(days=6), today, today, first)
    assert week.partial_today and week.whole == (date(2026, 11, 26), date(2026, 12, 1))
    assert week.previous == (date(2026, 11, 20), date(2026, 11, 25))
    assert week.caption() == (
        "trends compare the 6 whole days 26 Nov – 1 Dec with the 6 days before; today is partial and not in the trend"
    )
    alone = comparison(today, today, today, first)
    assert not alone.compared and alone.whole is None and "today is partial" in alone.caption()
    past = comparison(date(2026, 11, 1), date(2026, 11, 30), today, first)
    assert not past.partial_today and past.whole == (date(2026, 11, 1), date(2026, 11, 30))
    assert past.previous == (date(2026, 10, 2), date(2026, 10, 31))
    everything = comparison(first, today, today, first)
    assert not everything.compared and everything.caption() == "nothing stored before it to compare with"
    two = comparison(today - timedelta(days=1), today, today, first)
    assert two.caption().startswith("trends compare the whole day 1 Dec with the 1 day before")
