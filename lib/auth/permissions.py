"""Roles and permissions as data: the one place that says who may do what.

Pages use these to show or disable things; every state change checks them again in the gate
(lib.auth.gate), so hiding a button is never the only protection.
"""

from __future__ import annotations

from lib.core.errors import ConsoleError

ROLES = ("admin", "admin-readonly", "user")
ROLE_LABELS = {"admin": "Admin", "admin-readonly": "Admin (read-only)", "user": "User"}
PERMISSIONS = {
    "usage:read": "view usage analytics",
    "usage:export": "export usage data",
    "usage:refresh": "refresh usage data",
    "models:read": "view models",
    "models:sync": "sync models",
    "models:test": "test model configurations",
    "providers:read": "view providers",
    "providers:write": "change providers",
    "routing:read": "view routing",
    "routing:write": "change routing",
    "users:read": "view users",
    "users:manage": "manage users",
    "audit:read": "view the audit log",
    "logs:read": "view and export request logs",
    "logs:prompts": "view the prompts and responses of requests",
    "self:usage": "view your own usage",
    "health:read": "view the health of LiteLLM and the console",
    "health:check": "run LiteLLM's health checks",
    "keys:read": "view virtual keys",
    "keys:manage": "manage keys",
    "settings:read": "view the console's settings",
    "settings:write": "change the console's settings",
    "budgets:read": "view budgets and alerts",
    "budgets:write": "manage budgets and alerts",
}
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "admin-readonly": frozenset({p for p in PERMISSIONS if p.endswith(":read")} | {"usage:export", "self:usage"}),
    "user": frozenset({"self:usage"}),
}


class PermissionDenied(ConsoleError):
    """The acting user's role lacks a permission; the message is safe to show."""


def has_permission(role: str | None, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return permission in ROLE_PERMISSIONS.get(role or "", frozenset())


def denied_message(permission: str) -> str:
    """Tooltip / error for a missing permission, e.g. 'Admin access required to sync models'."""
    return f"Admin access required to {PERMISSIONS[permission]}"


def permissions_for(role: str | None) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role or "", frozenset())
