"""Roles and permissions as data, and the page registry built on them (no Streamlit, no database)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lib.auth.accounts import User
from lib.auth.gate import authorize, refusal
from lib.auth.permissions import (
    PERMISSIONS,
    ROLE_PERMISSIONS,
    ROLES,
    PermissionDenied,
    denied_message,
    has_permission,
    permissions_for,
)
from lib.ui.navigation import PAGES, available_pages, landing_page, menu

ROOT = Path(__file__).resolve().parent.parent
ISSUE_PERMISSIONS = {
    "usage:read",
    "usage:export",
    "usage:refresh",
    "models:read",
    "models:sync",
    "models:test",
    "providers:read",
    "providers:write",
    "users:manage",
    "audit:read",
    "self:usage",
}


def test_the_role_table_is_the_one_in_the_issue():
    assert set(ROLES) == {"admin", "admin-readonly", "user"}
    assert ISSUE_PERMISSIONS <= set(PERMISSIONS)
    assert ROLE_PERMISSIONS["admin"] == frozenset(PERMISSIONS)
    reads = {p for p in PERMISSIONS if p.endswith(":read")}
    assert ROLE_PERMISSIONS["admin-readonly"] == reads | {"usage:export", "audit:read", "self:usage"}
    assert ROLE_PERMISSIONS["user"] == {"self:usage"}


def test_readonly_admin_can_change_nothing():
    changes = {p for p in PERMISSIONS if not p.endswith(":read") and p not in ("usage:export", "self:usage")}
    assert changes >= {"usage:refresh", "models:sync", "models:test", "providers:write", "users:manage"}
    for perm in changes:
        assert not has_permission("admin-readonly", perm), perm
        assert has_permission("admin", perm), perm


@pytest.mark.parametrize("role", [None, "", "root", "Admin"])
def test_unknown_roles_have_no_permission(role):
    assert not any(has_permission(role, p) for p in PERMISSIONS)
    assert permissions_for(role) == frozenset()
    with pytest.raises(PermissionDenied):
        authorize(None, _login(role), "usage.export", None)


def test_a_typo_in_a_permission_name_is_an_error_not_a_silent_deny():
    with pytest.raises(KeyError):
        has_permission("admin", "models:synch")


def _login(role) -> User:
    return User("someone", "Someone", None, role, None, True)


def test_the_gate_refuses_with_the_tooltip_text():
    authorize(None, _login("admin"), "models.sync", None)  # allowed: no exception
    with pytest.raises(PermissionDenied, match="^Admin access required to sync models$"):
        authorize(None, _login("admin-readonly"), "models.sync", None)
    assert denied_message("models:sync") == "Admin access required to sync models"
    assert denied_message("users:manage") == "Admin access required to manage users"
    assert refusal(_login("admin"), "usage.refresh") is None
    assert refusal(_login("admin-readonly"), "usage.refresh") == "Admin access required to refresh usage data"


def test_every_page_is_registered_once_and_calls_the_guard_first():
    assert len({p.path for p in PAGES}) == len({p.url_path for p in PAGES}) == len(PAGES)
    assert all(p.permission in PERMISSIONS for p in PAGES)
    files = sorted(str(f.relative_to(ROOT)) for f in (ROOT / "pages").glob("*.py"))
    assert sorted(p.path for p in available_pages()) == files, "every file in pages/ is in the registry"
    for f in files:
        body = ast.parse((ROOT / f).read_text()).body
        first = next(
            n
            for n in body
            if not isinstance(n, (ast.Import, ast.ImportFrom, ast.Expr))
            or isinstance(n, ast.Expr)
            and not isinstance(n.value, ast.Constant)
        )
        call = first.value if isinstance(first, (ast.Assign, ast.Expr)) else None
        assert isinstance(call, ast.Call) and getattr(call.func, "id", "") == "require_page", (
            f"{f}: the first statement must be require_page(...)"
        )
        perm = call.args[0].value
        assert perm == next(p.permission for p in PAGES if p.path == f), f


def test_menus_per_role():
    """Which entries each role sees is tested through the app (test_app_access, test_e2e_access); here: the
    roles' relations and landing pages."""

    def titles(role):
        return {s: [p.title for p in specs] for s, specs in menu(role).items()}

    assert menu(None) == {}
    assert set(titles("admin")) == {"Usage", "Admin", "Operations"}
    assert titles("admin-readonly") == titles("admin")  # sees every admin page (read-only)
    assert titles("user") == {"Usage": ["My usage"]}  # never an admin page
    assert landing_page("user").title == "My usage"
    assert landing_page("admin").section == "Usage"
    assert landing_page(None) is None


def test_lib_modules_import_without_streamlit():
    import subprocess
    import sys

    code = (
        "import sys, lib.auth.permissions, lib.auth.accounts, lib.auth.audit, lib.cli.users, lib.core.db; "
        "print('streamlit' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
