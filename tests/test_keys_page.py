"""The Virtual keys page and My usage's own keys (AppTest, demo mode), against the demo LiteLLM's own state: the
keys it holds and the daily rows it served are the oracle, never the page's own frames.

A new key's plaintext is shown once and then nowhere: not on the page after a rerun, not in session state, the
app database's files, the logs or the audit log.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from lib.auth.audit import list_audit
from lib.core.clock import utcnow
from lib.core.formatting import compact, exact, money
from lib.ui.keys import NEW_KEY
from tests.support.apptest import app_as, app_runtime, shown_table

KEYS, MINE = "pages/keys.py", "pages/my_usage.py"
CREATE = "FormSubmitter:keys_create-Create key"
READONLY = "Admin access required to manage keys"


@pytest.fixture(scope="module")
def fake(demo_env):
    """The demo LiteLLM's keys: token -> LiteLLM's record of the key (live ones, and the archive)."""
    return app_runtime(demo_env).demo_litellm().key_api


def _table(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "trend" in d.value.columns)


def _shown(at) -> pd.DataFrame:
    """The keys table as the browser writes it."""
    return next(shown_table(d) for d in at.dataframe if "trend" in d.value.columns)


def _no_none(text: pd.DataFrame) -> None:
    cells = {str(v) for v in text.to_numpy().ravel()}
    assert not cells & {"None", "nan", "NaN", "NaT", "<NA>"}, text


def _tokens(table: pd.DataFrame) -> list[str]:
    """The keys of the table's rows: each row links to the Usage page filtered on its key's hash."""
    return [u.split("key=", 1)[1].split("&", 1)[0] for u in table["usage"]]


def _unique_alias(fake, want) -> tuple[str, dict]:
    """A live key whose alias no other key has (the demo, like an old LiteLLM, has a few shared aliases)."""
    aliases = [r["key_alias"] for r in fake._live.values()]
    return next(
        (t, r) for t, r in fake._live.items() if r["key_alias"] and aliases.count(r["key_alias"]) == 1 and want(r)
    )


def _status(record: dict) -> str:
    if record["blocked"]:
        return "blocked"
    return "expired" if record["expires"] is not None and record["expires"] <= utcnow() else "active"


def _search(at, text: str):
    at.text_input(key="keys_search").input(text).run()
    assert not at.exception, at.exception
    return at


def _rendered(at) -> str:
    """Everything the run sent to the browser, as text."""
    return "\n".join(str(node.proto) for node in at._tree if getattr(node, "proto", None) is not None)


def test_the_table_lists_litellms_live_keys_with_their_usage(demo_env, fake):
    at = app_as(demo_env, "admin", KEYS)
    table = _table(at)
    live = fake._live
    assert sorted(_tokens(table)) == sorted(live)  # deleted ones only on request
    assert dict(zip(_tokens(table), table["status"])) == {t: _status(r) for t, r in live.items()}
    assert dict(zip(_tokens(table), table["key_name"])) == {t: f"sk-...{t[-4:]}" for t in live}
    rows = pd.DataFrame(app_runtime(demo_env).demo_litellm().rows)
    rows["date"] = pd.to_datetime(rows["date"]).dt.date
    _first, last = app_runtime(demo_env).store.date_bounds()
    window = rows[(rows["date"] > last - timedelta(days=30)) & (rows["date"] <= last)]
    expected = window.groupby("api_key")["api_requests"].sum()
    shown = dict(zip(_tokens(table), table["requests"]))
    assert {t: shown[t] for t in expected.index if t in live} == {t: n for t, n in expected.items() if t in live}
    assert all(shown[t] == 0 for t in live if t not in expected.index)
    assert all(u.startswith("usage?key=") and u.endswith("&range=30d") for u in table["usage"])
    # written one way (lib.core.formatting), from LiteLLM's own record; the numbers underneath stay for sorting
    text = _shown(at)
    by_token = {t: text.iloc[i] for i, t in enumerate(_tokens(table))}
    assert {t: by_token[t]["spend"] for t in live} == {t: money(r["spend"]) for t, r in live.items()}
    assert {t: by_token[t]["max_budget"] for t in live} == {t: money(r["max_budget"]) for t, r in live.items()}
    assert {t: by_token[t]["rpm_limit"] for t in live} == {t: exact(r["rpm_limit"]) for t, r in live.items()}
    assert {t: by_token[t]["requests"] for t in expected.index if t in live} == {
        t: compact(n) for t, n in expected.items() if t in live
    }
    assert any(r["spend"] and money(r["spend"]) != f"${r['spend']:.4f}" for r in live.values())  # the old look
    assert any(r["max_budget"] is None for r in live.values())  # a key without a budget shows "—", not None
    _no_none(text.drop(columns=["models", "trend"]))
    assert table["spend"].dtype.kind == "f"


def test_a_page_load_reads_no_key_from_litellm_until_reloaded(demo_env, monkeypatch):
    rt = app_runtime(demo_env)
    demo = rt.demo_litellm()
    seen: list[str] = []
    original = demo.key_api.handle
    monkeypatch.setattr(demo.key_api, "handle", lambda r: seen.append(r.url.path) or original(r))
    rt.key_snapshots.forget()
    at = app_as(demo_env, "admin", KEYS)
    first = len(seen)
    assert first >= 2 and set(seen) == {"/key/list"}
    app_as(demo_env, "viewer", KEYS)  # another session: the kept snapshot
    at.run()
    assert len(seen) == first
    at.button(key="keys_reload").click().run()
    assert len(seen) == 2 * first
    assert "keys read from LiteLLM" in at.caption[0].value


def test_a_new_key_is_shown_once_then_nowhere(demo_env, fake, caplog):
    caplog.set_level(logging.DEBUG)
    at = app_as(demo_env, "admin", KEYS)
    at.text_input(key="keys_new_alias").input("page-made-key")
    at.text_input(key="keys_new_owner").input("alice.martin")
    at.number_input(key="keys_new_max_budget").set_value(12.5)
    at.number_input(key="keys_new_rpm").set_value(30)
    at.selectbox(key="keys_new_period").set_value("7d")
    at.button(key=CREATE).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = [c.value for c in at.code]
    assert len(shown) == 1 and shown[0].startswith("sk-")
    plaintext = shown[0]
    assert any("only time it is shown" in w.value for w in at.warning)
    token = hashlib.sha256(plaintext.encode()).hexdigest()
    record = fake._live[token]  # LiteLLM has the key, with what was typed
    assert (record["key_alias"], record["user_id"], record["max_budget"], record["rpm_limit"]) == (
        "page-made-key",
        "alice.martin",
        12.5,
        30,
    )
    assert (record["budget_duration"], record["tpm_limit"], record["models"]) == ("7d", None, [])

    at.run()  # a rerun nobody asked for (a chart's selection, a background refresh ending): still shown, to be copied
    assert [c.value for c in at.code] == [plaintext]
    at.button(key="keys_reload").click().run()  # the next action on the page: gone for good
    assert not at.code and plaintext not in _rendered(at) and NEW_KEY not in at.session_state
    assert "page-made-key" in set(_table(at)["alias"])  # the table has the new key, without reading LiteLLM again
    assert plaintext not in repr(at.session_state)  # every value the session holds
    db = Path(app_runtime(demo_env).settings.DATABASE_URL.removeprefix("sqlite:///"))
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        if path.exists():
            assert plaintext.encode() not in path.read_bytes(), path
    assert plaintext not in caplog.text
    audit = list_audit(app_runtime(demo_env).engine)
    assert plaintext not in audit.to_json()
    made = audit[audit["action"] == "keys.create"].iloc[0]
    assert (made["actor"], made["outcome"], made["details"]["new_hash"]) == ("admin", "success", token)


def test_bad_input_is_refused_on_the_page_and_nothing_is_made(demo_env, fake):
    before = set(fake._live)
    at = app_as(demo_env, "admin", KEYS)
    at.text_input(key="keys_new_alias").input("not a valid alias!")
    at.button(key=CREATE).click().run()
    assert any("is not valid" in e.value for e in at.error) and not at.code
    at.text_input(key="keys_new_alias").input("fine-alias")
    at.number_input(key="keys_new_max_budget").set_value(5.0)
    at.number_input(key="keys_new_soft_budget").set_value(9.0)
    at.button(key=CREATE).click().run()
    assert any("above the max budget" in e.value for e in at.error) and not at.code
    assert set(fake._live) == before


def test_admin_blocks_unblocks_edits_and_deletes_a_key(demo_env, fake):
    token, record = _unique_alias(fake, lambda r: _status(r) == "active")
    alias = record["key_alias"]
    at = _search(app_as(demo_env, "admin", KEYS), alias)
    assert _tokens(_table(at)) == [token]  # one key in view: it is the one managed

    at.button(key="keys_block").click().run()
    assert fake._live[token]["blocked"] is True
    assert any(f"Blocked {alias}" in s.value.replace("\\", "") for s in at.success)
    at.button(key="keys_unblock").click().run()
    assert fake._live[token]["blocked"] is False

    tag = token[:16]
    at.number_input(key=f"keys_edit_{tag}_rpm").set_value(321)
    at.number_input(key=f"keys_edit_{tag}_max_budget").set_value(1000.0)
    at.button(key=f"FormSubmitter:keys_edit_{tag}-Save changes").click().run()
    assert (fake._live[token]["rpm_limit"], fake._live[token]["max_budget"]) == (321, 1000.0)
    assert list(_table(at)["max_budget"]) == [1000.0]

    at.text_input(key=f"keys_delete_confirm_{tag}").input(alias.upper())
    at.button(key="keys_delete").click().run()
    assert any("nothing was deleted" in e.value for e in at.error) and token in fake._live
    at.text_input(key=f"keys_delete_confirm_{tag}").input(alias)
    at.button(key="keys_delete").click().run()
    assert token not in fake._live and token in fake._deleted
    assert _table(at).empty  # deleted keys are not in the default view
    at.multiselect(key="keys_statuses").select("deleted").run()
    assert _tokens(_table(at)) == [token]
    assert "keys_delete" not in [b.key for b in at.button]  # a deleted key has no actions
    done = list_audit(app_runtime(demo_env).engine)
    mine = done[done["target"] == f"{alias} (sk-...{token[-4:]})"]  # the refused confirmation changed nothing
    assert list(mine["action"])[::-1] == ["keys.block", "keys.unblock", "keys.update", "keys.delete"]
    assert set(mine["outcome"]) == {"success"}


def test_filters_show_exactly_the_keys_litellm_has_in_that_state(demo_env, fake):
    at = app_as(demo_env, "admin", KEYS)
    at.multiselect(key="keys_statuses").select("blocked").run()
    assert set(_tokens(_table(at))) == {t for t, r in fake._live.items() if r["blocked"]}
    at.multiselect(key="keys_statuses").unselect("blocked").run()
    at.toggle(key="keys_over").set_value(True).run()
    over = {f"sk-...{t[-4:]}" for t, r in fake._live.items() if r["max_budget"] and r["spend"] >= 0.8 * r["max_budget"]}
    assert over and set(_table(at)["key_name"]) == over
    at.toggle(key="keys_over").set_value(False).run()
    team = next(r["team_id"] for r in fake._live.values() if r["team_id"])
    at.multiselect(key="keys_teams").select(team).run()
    assert set(_table(at)["team_id"]) == {team}
    assert len(_table(at)) == sum(1 for r in fake._live.values() if r["team_id"] == team)


def test_a_readonly_admin_sees_every_action_disabled_with_why(demo_env, fake):
    token, record = _unique_alias(fake, lambda r: _status(r) == "active")
    at = _search(app_as(demo_env, "viewer", KEYS), record["key_alias"])
    tag = token[:16]
    for key in (CREATE, "keys_block", f"FormSubmitter:keys_edit_{tag}-Save changes", "keys_replace", "keys_delete"):
        button = at.button(key=key)
        assert button.disabled and button.help == READONLY, key
    blocked = next(t for t, r in fake._live.items() if r["blocked"])
    at = _search(at, blocked)  # the hash: one key
    assert _tokens(_table(at)) == [blocked]
    assert at.button(key="keys_unblock").disabled and at.button(key="keys_unblock").help == READONLY
    assert not at.get("download_button")[0].proto.disabled  # reading (and exporting the view) is theirs


def test_a_user_gets_403_on_keys_and_sees_only_their_own_keys_on_my_usage(demo_env, fake):
    at = app_as(demo_env, "alice", KEYS)
    assert any("403" in e.value for e in at.error) and not at.dataframe
    at = app_as(demo_env, "alice", MINE)
    own = next(d.value for d in at.dataframe if "key_name" in d.value.columns)
    expected = sorted(f"sk-...{t[-4:]}" for t, r in fake._live.items() if r["user_id"] == "alice.martin")
    assert expected and sorted(own["key_name"]) == expected
    assert "user_id" not in own.columns and "trend" not in own.columns
    text = next(shown_table(d) for d in at.dataframe if "key_name" in d.value.columns)
    records = {f"sk-...{t[-4:]}": r for t, r in fake._live.items() if r["user_id"] == "alice.martin"}
    assert dict(zip(text["key_name"], text["spend"])) == {k: money(r["spend"]) for k, r in records.items()}
    _no_none(text.drop(columns=["models"]))
    assert not [b for b in at.button if b.key and b.key.startswith("keys_")]  # no actions
