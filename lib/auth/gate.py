"""The one gate every state change goes through: permission check, the change, its audit row, one error type.

Actions are data (`ACTIONS`: name -> the permission it needs and what it does); the name is also the audit
row's action. `perform` is the only way to run one:

- refused (the actor's role lacks the permission): audited 'denied', raises PermissionDenied, nothing runs;
- done: the change and its audit row (outcome 'success' unless the action says otherwise) commit together;
- a ConsoleError (a domain failure: bad input, LiteLLM down): the change rolls back, 'failure' is audited
  with the error's message (safe to show) in a transaction of its own, and the error is raised as it is;
- ended by a BaseException (Streamlit stopping the script, Ctrl-C): audited 'interrupted', then re-raised.

Slow outside work (HTTP calls to LiteLLM) never runs inside the transaction: the caller fetches first and
passes a change that only writes, or runs the action with `transaction=False` when it has no app-database
writes of its own (an HTTP probe, a refresh writing the usage store), audited the same way.

The actor is a console login (anything with `username` and `role`), or None for the operator's CLI, which
may do everything (whoever runs it already holds the database). Logins and logouts are audited events,
not gated actions (lib.auth.accounts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lib.auth.audit import audit
from lib.auth.permissions import PERMISSIONS, PermissionDenied, denied_message, has_permission
from lib.core.errors import ConsoleError

log = logging.getLogger(__name__)
T = TypeVar("T")
CLI_ACTOR = "cli"  # who the audit log names for the operator's command line
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Action:
    permissions: tuple[str, ...]  # any one of them allows the action; the first names a refusal
    description: str


ACTIONS: dict[str, Action] = {
    "user.create": Action(("users:manage",), "create a console login"),
    "user.set_password": Action(("users:manage",), "set a login's password (ends its sessions and any lockout)"),
    "user.enable": Action(("users:manage",), "enable a login (ends any lockout)"),
    "user.unlock": Action(("users:manage",), "end a login's lockout after failed logins"),
    "user.disable": Action(("users:manage",), "disable a login (ends its sessions)"),
    "user.change_role": Action(("users:manage",), "change a login's role (ends its sessions)"),
    "user.link_litellm": Action(("users:manage",), "link a login to the LiteLLM user 'My usage' shows"),
    "user.restore_admin": Action(("users:manage",), "give the environment's admin login back when no admin is left"),
    "models.sync": Action(("models:sync",), "sync the models catalogue from LiteLLM"),
    "models.test_config": Action(("models:test",), "test an endpoint, key and model (the key is never kept)"),
    "usage.refresh": Action(("usage:refresh",), "re-fetch today's usage from LiteLLM"),
    "providers.add": Action(("providers:write",), "add a provider (its credential and models in LiteLLM)"),
    "providers.configure": Action(("providers:write",), "change a provider's settings, key or models in LiteLLM"),
    "providers.test": Action(("providers:write",), "test a provider's connection with its key"),
    "providers.enable": Action(("providers:write",), "enable a provider (its models back in LiteLLM)"),
    "providers.disable": Action(("providers:write",), "disable a provider (its models leave LiteLLM)"),
    "providers.delete": Action(("providers:write",), "delete a provider (its credential and models leave LiteLLM)"),
    "providers.adopt": Action(("providers:write",), "adopt LiteLLM's existing providers into the console"),
    "providers.rotate_key": Action(("providers:write",), "re-encrypt the stored provider keys under a new key"),
    "routing.apply": Action(("routing:write",), "apply the console's routing to LiteLLM"),
    "routing.adopt": Action(("routing:write",), "adopt LiteLLM's routing as the console's"),
    "routing.import": Action(("routing:write",), "replace the console's desired routing (YAML or the page)"),
    # My usage exports the caller's own data: self:usage is enough there
    "usage.export": Action(("usage:export", "self:usage"), "download a usage export"),
    "health.check_now": Action(("health:check",), "run LiteLLM's health checks now (real calls to the providers)"),
    "keys.create": Action(("keys:manage",), "create a LiteLLM virtual key (its plaintext is shown once, never kept)"),
    "keys.update": Action(("keys:manage",), "change a virtual key's alias, models, budgets, limits or expiry"),
    "keys.block": Action(("keys:manage",), "block a virtual key (LiteLLM refuses its requests)"),
    "keys.unblock": Action(("keys:manage",), "unblock a virtual key"),
    "keys.delete": Action(("keys:manage",), "delete a virtual key"),
    "keys.replace": Action(("keys:manage",), "replace a virtual key: a copy of its settings, the old key blocked"),
    "settings.change": Action(("settings:write",), "save a console setting (in effect at once, no restart)"),
    "settings.test_notification": Action(
        ("settings:write",), "send a test webhook and e-mail to the alert channels the settings configure"
    ),
    # whoever may read the request logs may download them (as read-only admins may export usage)
    "logs.export": Action(("logs:read",), "download an export of request logs (every page of the filtered view)"),
    "budgets.create": Action(("budgets:write",), "set a console budget (amount per period, alert threshold)"),
    "budgets.update": Action(("budgets:write",), "change a console budget"),
    "budgets.delete": Action(("budgets:write",), "delete a console budget and its alerts"),
    "budgets.push_to_litellm": Action(
        ("budgets:write",), "set an API key's, team's or user's budget as its max_budget in LiteLLM"
    ),
    "alerts.acknowledge": Action(("budgets:write",), "acknowledge a budget alert"),
}
assert all(p in PERMISSIONS for a in ACTIONS.values() for p in a.permissions), "an action names an unknown permission"


def actor_name(actor) -> str:
    return actor.username if actor is not None else CLI_ACTOR


def refusal(actor, action: str) -> str | None:
    """None when `actor` may do `action`, else why not ("Admin access required to …"), safe to show."""
    needed = ACTIONS[action].permissions
    if actor is None or any(has_permission(actor.role, p) for p in needed):
        return None
    return denied_message(needed[0])


def authorize(engine, actor, action: str, target: str | None, context: dict | None = None) -> None:
    """The permission check alone: a refusal is audited 'denied' and raised as PermissionDenied.

    Only for a change that still writes its own audit rows (the model sync, see lib.catalog.models);
    everything else calls `perform`.
    """
    why = refusal(actor, action)
    if why is not None:
        _audit_apart(engine, actor, action, target, "denied", {**(context or {}), "error": why})
        raise PermissionDenied(why)


def perform(
    engine,
    actor,
    action: str,
    target: str | None,
    change: Callable[..., T] | None = None,
    *,
    transaction: bool = True,
    context: dict | None = None,
    details: dict | Callable[[T], dict] | None = None,
    outcome: str | Callable[[T], str] = "success",
) -> T | None:
    """Run one action through the gate and return what `change` returned.

    `change(conn)` makes the change inside the transaction its audit row commits in; with
    `transaction=False` it is called without arguments and its row is written after it (`engine` None: the
    app database is unavailable and nothing is audited). `change=None`: nothing to run, the action is only
    checked and audited (a download whose file the caller builds).
    `context` goes into every row of the action (e.g. the URL tested); `details` into the success row only,
    and like `outcome` it may be computed from the change's result.
    """
    authorize(engine, actor, action, target, context)
    context = dict(context or {})

    def audit_done(result, conn) -> None:
        extra = details(result) if callable(details) else (details or {})
        if engine is not None:
            audit(
                engine,
                actor_name(actor),
                action,
                target,
                outcome(result) if callable(outcome) else outcome,
                {**context, **extra},
                conn=conn,
            )

    audited = False
    try:
        if change is not None and transaction:
            with engine.begin() as conn:
                result = change(conn)
                audit_done(result, conn)
        else:
            result = change() if change is not None else None
            audit_done(result, None)
        audited = True
        return result
    except Exception as exc:
        failed_as = exc.audit_outcome if isinstance(exc, ConsoleError) else "failure"
        if failed_as and not audited:
            _audit_apart(engine, actor, action, target, failed_as, {**context, "error": _safe_message(exc)})
        raise
    except BaseException as exc:  # not an error: the run was stopped; its row must not be lost with it
        if not audited:
            _audit_apart(engine, actor, action, target, "interrupted", {**context, "reason": type(exc).__name__})
        raise


def _safe_message(exc: Exception) -> str:
    """A ConsoleError's own words; any other error only by its type (its text may quote SQL parameters)."""
    if isinstance(exc, ConsoleError):
        return str(exc)[:MAX_ERROR_CHARS] or type(exc).__name__
    return f"unexpected error ({type(exc).__name__})"


def _audit_apart(engine, actor, action: str, target: str | None, outcome: str, details: dict[str, Any]) -> None:
    """An audit row in a transaction of its own (the change's rolled back); never hides the error being raised."""
    if engine is None:
        return
    try:
        audit(engine, actor_name(actor), action, target, outcome, details)
    except Exception:  # the database itself is down: the caller still gets the original error
        log.exception("could not audit %s %s of %s", outcome, action, actor_name(actor))
