"""The one gate (lib.auth.gate): every registered action, performed through the function pages and the CLI call,
is audited when done and when refused, and a refused one changes nothing; failures roll back and stay audited;
every state-changing button is drawn by the one permission-aware helper; every domain error is a ConsoleError."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import httpx
import pytest
from sqlalchemy import MetaData, select, update

from lib.auth import accounts, gate
from lib.auth.accounts import User, users
from lib.auth.audit import audit_log, list_audit
from lib.auth.permissions import ROLES, PermissionDenied, denied_message, has_permission
from lib.budgets import service as budget_service
from lib.console_settings.service import change_setting
from lib.core.errors import ConsoleError
from lib.core.settings import EDITABLE_NAMES, load_settings
from lib.runtime import Runtime
from lib.usage.queries import Filters
from tests.support.apptest import app_as, app_runtime

ADMIN = User("root", "Root", None, "admin", None, True)


@dataclass
class Env:
    rt: Runtime
    engine: object
    probe_calls: list


@pytest.fixture
def env(app_db_url, tmp_path):
    """A demo-mode console over its own app database and usage store, with an admin and a login to change."""
    settings = load_settings(
        {"DATABASE_URL": app_db_url, "DUCKDB_PATH": str(tmp_path / "usage.duckdb")}, secrets_path=None
    )
    rt = Runtime(settings)
    engine = rt.engine
    accounts.create_user(engine, None, ADMIN.username, "root-password", "admin")
    accounts.create_user(engine, None, "target", "target-password", "user")
    yield Env(rt, engine, [])
    rt.close()


def _endpoint(env: Env) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        env.probe_calls.append(request.url)
        return httpx.Response(200, json={"data": [{"id": "gpt-4o"}]})

    return httpx.MockTransport(answer)


def _refresh(env: Env, actor) -> None:
    from lib.services import refresh_today_as

    refresh_today_as(env.rt, actor)


def _sync(env: Env, actor) -> None:
    from lib.catalog.sync import sync_models_as

    sync_models_as(env.rt, actor)


def _test_config(env: Env, actor) -> None:
    from lib.catalog.probe import test_configuration

    test_configuration(env.engine, actor, "https://llm.example/v1", "sk-secret-key", "gpt-4o", transport=_endpoint(env))


def _check_now(env: Env, actor) -> None:
    from lib.health.litellm_checks import check_now

    check_now(env.rt, actor, "llama3-local")


def _export(env: Env, actor) -> None:
    from lib.ui.actions import export_auditor

    export_auditor(env.rt, actor, date(2026, 1, 1), date(2026, 1, 31), Filters())("model", "csv", "u.csv")


def _demo_provider(env: Env) -> str:
    """A provider to act on, added once (by the CLI's actor) to demo mode's LiteLLM and the console."""
    from lib.providers import service
    from lib.providers.records import ProviderInput

    if not any(p.name == "acme" for p in service.list_providers(env.rt)):
        service.add_provider(
            env.rt, None, ProviderInput("acme", "openai", api_key="sk-secret-key-acme-0001"), [("gpt-4o", "gpt-4o")]
        )
    return "acme"


def _provider_action(name: str):
    def perform(env: Env, actor) -> None:
        from lib.providers import service

        answer = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": [{"id": "gpt-4o"}]}))
        allowed = gate.refusal(actor, f"providers.{name}") is None
        target = _demo_provider(env) if allowed else "acme"  # a refused actor is stopped before anything is read
        if name == "configure":
            service.configure_provider(env.rt, actor, target, {"priority": 7})
        elif name == "test":
            service.test_provider(env.rt, actor, target, transport=answer)
        elif name in ("enable", "disable"):
            service.set_enabled(env.rt, actor, target, name == "enable")
        elif name == "delete":
            service.delete_provider(env.rt, actor, target)
        elif name == "adopt":
            service.adopt(env.rt, actor)
        elif name == "rotate_key":
            from cryptography.fernet import Fernet

            service.rotate_encryption_key(env.rt, actor, Fernet.generate_key().decode())
        elif name == "add":
            from lib.providers.records import ProviderInput

            service.add_provider(env.rt, actor, ProviderInput("beta", "ollama"), [("llama3", "llama3")])

    return perform


def _key_action(action: str):
    """A keys action as the Virtual keys page performs it: planned from the kept snapshot, applied through the
    gate on demo mode's fake LiteLLM."""

    def run(env: Env, actor) -> None:
        from lib.keys import plans

        keys = env.rt.key_snapshots.get(env.rt.litellm_client).keys
        row = keys[keys["status"] == "active"].iloc[0]
        if action == "keys.unblock":
            row = keys[keys["status"] == "blocked"].iloc[0]
        plan = {
            "keys.create": lambda: plans.plan_create(plans.KeySettings.of(alias="gate-test")),
            "keys.update": lambda: plans.plan_update(
                row, replace(plans.KeySettings.of_key(row), rpm_limit=int(row["rpm_limit"] or 41) + 1)
            ),
            "keys.block": lambda: plans.plan_block(row),
            "keys.unblock": lambda: plans.plan_unblock(row),
            "keys.delete": lambda: plans.plan_delete(row, plans.confirmation_word(row)),
            "keys.replace": lambda: plans.plan_replace(row, "gate-copy"),
        }[action]()
        with env.rt.litellm_client() as client:
            plans.apply_plan(env.engine, client, actor, plan, env.rt.key_snapshots)

    return run


def _logs_export(env: Env, actor) -> None:
    from lib.core.clock import utcnow
    from lib.logs.export import export_logs
    from lib.logs.query import LogQuery, LogWindow

    with env.rt.litellm_client() as client:
        export_logs(env.engine, actor, client, LogQuery(LogWindow.last(15, utcnow())), "csv", 1000)


def _routing_action(name: str):
    def perform(env: Env, actor) -> None:
        from lib.routing import service

        if name == "apply":
            service.apply(env.rt, actor, service.parse_state({"strategy": "cost"}))
        elif name == "adopt":
            service.adopt(env.rt, actor)
        elif name == "import":
            service.set_desired(env.rt, actor, {"strategy": "quality"})

    return perform


# How pages and the CLI perform each action (the functions they call), keyed by the action's name.
PERFORMERS = {
    "user.create": lambda env, actor: accounts.create_user(env.engine, actor, "newbie", "newbie-password", "user"),
    "user.set_password": lambda env, actor: accounts.set_password(env.engine, actor, "target", "another-password"),
    "user.enable": lambda env, actor: accounts.set_enabled(env.engine, actor, "target", True),
    "user.disable": lambda env, actor: accounts.set_enabled(env.engine, actor, "target", False),
    "user.unlock": lambda env, actor: accounts.unlock(env.engine, actor, "target"),
    "user.change_role": lambda env, actor: accounts.change_role(env.engine, actor, "target", "admin-readonly"),
    "user.link_litellm": lambda env, actor: accounts.set_litellm_user(env.engine, actor, "target", "target.l"),
    # only the start-up asks for it (bootstrap_accounts, as the bootstrap admin): its one change call, as any actor
    "user.restore_admin": lambda env, actor: accounts._change(
        env.engine, actor, "target", "user.restore_admin", lambda: {"role": "admin", "enabled": True}, {}
    ),
    "models.sync": _sync,
    "models.test_config": _test_config,
    "usage.refresh": _refresh,
    "usage.export": _export,
    **{
        f"providers.{name}": _provider_action(name)
        for name in ("add", "configure", "test", "enable", "disable", "delete", "adopt", "rotate_key")
    },
    **{f"routing.{name}": _routing_action(name) for name in ("apply", "adopt", "import")},
    "health.check_now": _check_now,
    **{a: _key_action(a) for a in gate.ACTIONS if a.startswith("keys.")},
    "logs.export": _logs_export,
    "settings.change": lambda env, actor: change_setting(env.rt, actor, "REFRESH_INTERVAL_MINUTES", "7"),
    "settings.test_notification": lambda env, actor: budget_service.send_test_notification(
        env.engine, actor, env.rt.settings
    ),
    "budgets.create": lambda env, actor: budget_service.create_budget(
        env.engine, actor, "team", "t1", 500, "month", 0.8
    ),
    "budgets.update": lambda env, actor: budget_service.update_budget(
        env.engine, actor, _budget_id(env), "global", None, 900, "month", 0.5
    ),
    "budgets.delete": lambda env, actor: budget_service.delete_budget(env.engine, actor, _budget_id(env)),
    "budgets.push_to_litellm": lambda env, actor: _push_budget(env, actor),
    "alerts.acknowledge": lambda env, actor: budget_service.acknowledge_alert(env.engine, actor, _alert_id(env)),
}
DONE = {"models.test_config": "model_found", "providers.test": "ok"}  # an action whose success row says what was found


def _disable_target(env: Env) -> None:
    with env.engine.begin() as c:
        c.execute(update(users).where(users.c.username == "target").values(enabled=False))


def _lock_target(env: Env) -> None:
    for _ in range(accounts.MAX_FAILED_LOGINS):
        with pytest.raises(accounts.LoginError):
            accounts.authenticate(env.engine, "target", "wrong-password")


def _budget_id(env: Env) -> int:
    return budget_service.list_budgets(env.engine)[0].id


def _alert_id(env: Env) -> int:
    return budget_service.list_alerts(env.engine)[0]["id"]


def _a_budget(env: Env) -> None:
    budget_service.create_budget(env.engine, None, "global", None, 1000, "month", 0.8)


def _a_key_budget(env: Env) -> None:
    keys = env.rt.key_snapshots.get(env.rt.litellm_client).keys
    token = keys[keys["status"] == "active"].iloc[0]["token"]
    budget_service.create_budget(env.engine, None, "api_key", token, 25, "week", 0.8)


def _push_budget(env: Env, actor) -> None:
    from lib.budgets.litellm_limits import push_key_budget

    with env.rt.litellm_client() as client:
        push_key_budget(env.engine, client, actor, budget_service.list_budgets(env.engine)[0], env.rt.key_snapshots)


def _two_budgets(env: Env) -> None:  # one to delete, one the refused login tries to
    _a_budget(env)
    budget_service.create_budget(env.engine, None, "user", "u1", 10, "day", 0.9)


def _an_alert(env: Env) -> None:
    from lib.budgets.records import record_event

    _a_budget(env)
    with env.engine.begin() as conn:
        record_event(conn, budget_service.list_budgets(env.engine)[0], date(2026, 12, 1), "warning", 850.0, 1100.0)


# What an action needs before it can change anything (enabling: a disabled login; unlocking: a locked one).
BEFORE = {
    "user.enable": _disable_target,
    "user.unlock": _lock_target,
    "budgets.update": _a_budget,
    "budgets.delete": _two_budgets,
    "budgets.push_to_litellm": _a_key_budget,
    "alerts.acknowledge": _an_alert,
}


def _refused_actor(action: str) -> User:
    """A login whose role lacks the action's permission (every role may export: each at least its own usage, so
    there it is a login whose role grants nothing)."""
    needed = gate.ACTIONS[action].permissions
    role = next((r for r in ROLES if not any(has_permission(r, p) for p in needed)), "no-such-role")
    return User("refused", "Refused", None, role, None, True)


def _state(env: Env) -> dict:
    """Every row of the app database but the audit log, and the usage store's files."""
    meta = MetaData()
    meta.reflect(env.engine)
    with env.engine.connect() as c:
        rows = {
            t.name: sorted(map(repr, c.execute(select(t)).all()))
            for t in meta.sorted_tables
            if t.name != audit_log.name
        }
    rows["usage store"] = sorted(str(p) for p in env.rt.settings.store_dir.rglob("*") if p.is_file())
    return rows


def test_every_action_has_a_performer_and_a_known_permission():
    assert set(PERFORMERS) == set(gate.ACTIONS)
    for action in gate.ACTIONS.values():
        assert action.permissions and action.description


@pytest.mark.parametrize("action", sorted(gate.ACTIONS))
def test_each_action_is_audited_when_done_and_when_refused(env, action):
    BEFORE.get(action, lambda env: None)(env)
    PERFORMERS[action](env, ADMIN)
    done = list_audit(env.engine, action=action).iloc[0]
    assert (done["actor"], done["outcome"]) == ("root", DONE.get(action, "success"))
    assert len(env.probe_calls) == (action == "models.test_config")
    assert "sk-secret-key" not in list_audit(env.engine).to_json()

    before = _state(env)
    refused = _refused_actor(action)
    with pytest.raises(PermissionDenied) as err:
        PERFORMERS[action](env, refused)
    assert str(err.value) == denied_message(gate.ACTIONS[action].permissions[0])
    row = list_audit(env.engine, action=action).iloc[0]
    assert (row["actor"], row["outcome"], row["details"]["error"]) == ("refused", "denied", str(err.value))
    assert _state(env) == before  # refused: nothing changed
    assert len(env.probe_calls) == (action == "models.test_config")  # and nothing was sent


def test_the_cli_is_never_refused_and_is_named_cli(env):
    """The operator's command line (actor None) is never refused; the audit log names it "cli"."""
    for action in ("user.create", "user.disable", "models.test_config"):
        PERFORMERS[action](env, None)
        assert list_audit(env.engine, action=action).iloc[0]["actor"] == "cli"


def _promote_then(error: BaseException):
    def change(conn):
        conn.execute(update(users).where(users.c.username == "target").values(role="admin"))
        raise error

    return change


def test_a_failure_rolls_the_change_back_and_is_audited_with_its_safe_message(env):
    with pytest.raises(ConsoleError, match="^The change failed half-way$"):
        gate.perform(
            env.engine,
            ADMIN,
            "user.change_role",
            "target",
            _promote_then(accounts.AccountError("The change failed half-way")),
            details={"role": "admin"},
        )
    assert accounts.get_user(env.engine, "target").role == "user"
    row = list_audit(env.engine, action="user.change_role").iloc[0]
    assert (row["outcome"], row["details"]) == ("failure", {"error": "The change failed half-way"})


def test_an_unexpected_error_is_audited_by_its_type_only_and_raised_as_it_is(env):
    leaky = RuntimeError("UPDATE users SET password_hash='$2b$10$secret-hash'")
    with pytest.raises(RuntimeError, match="secret-hash"):
        gate.perform(env.engine, ADMIN, "user.change_role", "target", _promote_then(leaky))
    assert accounts.get_user(env.engine, "target").role == "user"
    row = list_audit(env.engine, action="user.change_role").iloc[0]
    assert (row["outcome"], row["details"]) == ("failure", {"error": "unexpected error (RuntimeError)"})


def test_a_stopped_run_rolls_back_and_is_audited_interrupted(env):
    with pytest.raises(KeyboardInterrupt):
        gate.perform(env.engine, ADMIN, "user.change_role", "target", _promote_then(KeyboardInterrupt()))
    assert accounts.get_user(env.engine, "target").role == "user"
    row = list_audit(env.engine, action="user.change_role").iloc[0]
    assert (row["outcome"], row["details"]) == ("interrupted", {"reason": "KeyboardInterrupt"})


def test_a_refresh_refused_because_one_runs_is_not_audited(env):
    import lib.services
    from lib.core import leases

    running = leases.acquire(env.engine, lib.services.REFRESH_LEASE, "scheduler", lib.services.REFRESH_LEASE_TTL)
    try:
        with pytest.raises(lib.services.RefreshInProgress, match="already running"):
            _refresh(env, ADMIN)
    finally:
        leases.release(env.engine, running)
    assert list_audit(env.engine, action="usage.refresh").empty


# -- the one button helper -------------------------------------------------------------------------
# Every state-changing button of each page: its key and the action it performs.
PAGE_BUTTONS = {
    "pages/settings.py": {f"settings_save_{name}": "settings.change" for name in EDITABLE_NAMES}
    | {"settings_test_notification": "settings.test_notification"},
    "pages/usage.py": {"refresh_today": "usage.refresh"},
    "pages/models.py": {"models_sync": "models.sync", "models_test_submit": "models.test_config"},
    "pages/health.py": {"health_check_now": "health.check_now"},
    "pages/logs.py": {},
    "pages/users.py": {
        "FormSubmitter:create_user-Create user": "user.create",
        "edit_user_set_role": "user.change_role",
        "edit_user_disable": "user.disable",
        "edit_user_enable": "user.enable",
        "edit_user_unlock": "user.unlock",
        "edit_user_reset": "user.set_password",
        "edit_user_link": "user.link_litellm",
    },
    # with no key selected (its actions: tests/test_keys_page.py)
    "pages/keys.py": {"FormSubmitter:keys_create-Create key": "keys.create"},
    # with no budget yet (its other actions: tests/test_budgets_page.py)
    "pages/budgets.py": {"FormSubmitter:budgets_create-Set budget": "budgets.create"},
}
# the sidebar's Log out (an audited event, not a gated action); the Health page's Check again (a rerun); the
# keys page's and the Budgets page's reloads and Request logs' Refresh (reads of LiteLLM); Request logs' export (a
# gated, audited download that read-only admins may make too, as they may export usage); the Usage pages' Clear all
# filters (view state only)
NOT_STATE_CHANGING = {
    "console_logout",
    "health_recheck",
    "keys_reload",
    "budgets_reload_limits",
    "keys_copied",
    "logs_refresh",
    "logs_export",
    "usage_clear_filters",
    "mine_clear_filters",
}


@pytest.mark.parametrize("who", ["viewer", "admin"])
@pytest.mark.parametrize("path", sorted(PAGE_BUTTONS))
def test_state_changing_buttons_are_disabled_with_the_reason_for_whoever_may_not(app_env, path, who):
    """On a demo app over an empty store: the buttons are drawn before any data."""
    engine = app_runtime(app_env).engine
    user = accounts.get_user(engine, who)
    at = app_as(app_env, who, path)
    assert {b.key for b in at.button} - NOT_STATE_CHANGING == set(PAGE_BUTTONS[path])
    for key, action in PAGE_BUTTONS[path].items():
        button = at.button(key=key)
        why = gate.refusal(user, action)
        assert (button.disabled, button.help or None) == (why is not None, why), key
        if who == "viewer":
            assert why.startswith("Admin access required to "), key


# -- one error root --------------------------------------------------------------------------------
def test_every_domain_error_is_a_console_error_and_keeps_the_builtin_callers_catch():
    from lib.catalog.probe import InvalidApiBase
    from lib.catalog.sync import ModelSyncError, SyncInProgress
    from lib.cli import CliError
    from lib.core.settings import SettingsError
    from lib.litellm.client import LiteLLMError
    from lib.services import RefreshInProgress
    from lib.usage.ingest import IngestError
    from lib.usage.queries import QueryError

    roots = [
        PermissionDenied,
        accounts.AccountError,
        accounts.LoginError,
        SettingsError,
        LiteLLMError,
        IngestError,
        QueryError,
        ModelSyncError,
        SyncInProgress,
        InvalidApiBase,
        RefreshInProgress,
        CliError,
    ]
    assert all(issubclass(e, ConsoleError) for e in roots)
    for error, builtin in (
        (accounts.AccountError, ValueError),
        (SettingsError, ValueError),
        (QueryError, ValueError),
        (InvalidApiBase, ValueError),
        (ModelSyncError, RuntimeError),
        (RefreshInProgress, RuntimeError),
    ):
        assert issubclass(error, builtin), error


def _cli_raising(monkeypatch, capsys, error: Exception) -> tuple[int, str, str]:
    import lib.cli

    def command(args, settings):
        raise error

    monkeypatch.setattr(lib.cli, "load_settings", lambda: None)
    monkeypatch.setattr(lib.cli, "cmd_refresh_today", command)
    code = lib.cli.main(["refresh-today"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "error",
    [
        PermissionDenied(denied_message("usage:refresh")),
        accounts.AccountError("No user 'ghost'"),
        ConsoleError("Something safe to say"),
    ],
)
def test_the_cli_ends_a_refused_or_bad_request_with_one_line_and_exit_2(monkeypatch, capsys, error):
    assert _cli_raising(monkeypatch, capsys, error) == (2, "", f"error: {error}\n")


def test_the_cli_ends_an_unreachable_litellm_with_one_line_and_exit_1(monkeypatch, capsys):
    from lib.litellm.client import LiteLLMUnreachable

    error = LiteLLMUnreachable("Cannot reach LiteLLM at http://litellm.example")
    assert _cli_raising(monkeypatch, capsys, error) == (1, "", f"error: {error}\n")
