"""The page registry: one line per page (file, title, icon, required permission, menu section, URL).

`build_navigation(role)` turns it into `st.navigation`'s dict of sections: the role's pages are in the
menu; every other page stays routable but hidden, so a deep link survives the login and the page's
guard answers "403 — admin access required" instead of "page not found". A hidden root page sends
each role to its landing page. `render_menu` draws the menu in the sidebar.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from lib.auth.permissions import PERMISSIONS, has_permission

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to app.py
    title: str
    icon: str
    permission: str  # the permission the page's guard requires
    section: str  # menu section
    url_path: str  # stable URL: /<url_path>


PAGES = (
    PageSpec("pages/usage.py", "Usage analytics", ":material/monitoring:", "usage:read", "Usage", "usage"),
    PageSpec("pages/my_usage.py", "My usage", ":material/person:", "self:usage", "Usage", "my-usage"),
    PageSpec("pages/models.py", "Models", ":material/model_training:", "models:read", "Admin", "models"),
    PageSpec("pages/providers.py", "Providers", ":material/hub:", "providers:read", "Admin", "providers"),
    PageSpec("pages/routing.py", "Routing", ":material/alt_route:", "routing:read", "Admin", "routing"),
    PageSpec("pages/users.py", "Users", ":material/group:", "users:read", "Admin", "users"),
    PageSpec("pages/budgets.py", "Budgets", ":material/savings:", "budgets:read", "Admin", "budgets"),
    PageSpec("pages/audit.py", "Audit log", ":material/history:", "audit:read", "Admin", "audit"),
    PageSpec("pages/settings.py", "Settings", ":material/settings:", "settings:read", "Admin", "settings"),
    PageSpec("pages/keys.py", "Virtual keys", ":material/key:", "keys:read", "Operations", "keys"),
    PageSpec("pages/logs.py", "Request logs", ":material/receipt_long:", "logs:read", "Operations", "logs"),
    PageSpec("pages/health.py", "Health", ":material/monitor_heart:", "health:read", "Operations", "health"),
)
assert all(p.permission in PERMISSIONS for p in PAGES)


def available_pages() -> list[PageSpec]:
    """Registered pages whose file exists (a page not written yet is left out, not an error)."""
    return [p for p in PAGES if (ROOT / p.path).is_file()]


def menu(role: str | None) -> dict[str, list[PageSpec]]:
    """The pages a role sees in the menu, by section, in registry order. Empty when logged out."""
    sections: dict[str, list[PageSpec]] = {}
    for p in available_pages():
        if role and has_permission(role, p.permission):
            sections.setdefault(p.section, []).append(p)
    return sections


def landing_page(role: str | None) -> PageSpec | None:
    """Where a role lands after the login: its first menu page."""
    return next((p for specs in menu(role).values() for p in specs), None)


def build_navigation(role: str | None) -> dict:
    """`st.navigation` input for a role (None: logged out, every page hidden).

    The root URL shows the role's landing page in place (a hidden default page of the same file), not by
    st.switch_page: a rerun right after the login would drop the login cookie the run is setting.
    """
    import streamlit as st

    landing = landing_page(role)
    if landing is not None:
        home = st.Page(
            landing.path, title=landing.title, icon=landing.icon, url_path="home", default=True, visibility="hidden"
        )
    else:

        def no_page() -> None:  # logged out (app.py shows the login instead) or a role without pages
            st.error("403 — admin access required")

        home = st.Page(no_page, title="Home", url_path="home", default=True, visibility="hidden")

    shown = {p.path for specs in menu(role).values() for p in specs}
    nav: dict[str, list] = {}
    for section, specs in menu(role).items():
        nav[section] = [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path) for p in specs]
    # "" = no section header; all of these are hidden from the menu but routable (deep links, 403)
    nav[""] = [home] + [
        st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, visibility="hidden")
        for p in available_pages()
        if p.path not in shown
    ]
    return nav


def page_label(title: str) -> str:
    """A page's name in metrics: its URL path (a role's landing page shown at the root counts as that page)."""
    return next((p.url_path for p in PAGES if p.title == title), "home")


def run_page(nav, metrics) -> None:
    """Run the page `st.navigation` chose and record how long it took (lib.health.metrics: page render time),
    however it ended (a 403 and a stopped run are renders too)."""
    started = time.perf_counter()
    try:
        nav.run()
    finally:
        metrics.page_rendered(page_label(nav.title), time.perf_counter() - started)


def render_menu(nav: dict) -> None:
    """The role's menu, from `build_navigation`'s sections, as page links (none for a single page, as Streamlit).

    Not st.navigation's own sidebar menu: `client.showSidebarNavigation = false` (.streamlit/config.toml) hides
    it along with the raw list of pages/ that Streamlit shows on a new server's first run.
    """
    import streamlit as st

    sections = {name: pages for name, pages in nav.items() if name}  # "": the hidden, routable pages
    if sum(len(pages) for pages in sections.values()) < 2:
        return
    for name, pages in sections.items():
        st.caption(name)
        for page in pages:
            st.page_link(page, width="stretch")
