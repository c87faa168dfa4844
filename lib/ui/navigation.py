"""The page registry: one line per page (file, title, icon, permission, section)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    permission: str
    section: str
    url_path: str


PAGES = (
    PageSpec("pages/usage.py", "Usage analytics", ":material/monitoring:", "usage:read", "Usage", "usage"),
    PageSpec("pages/my_usage.py", "My usage", ":material/person:", "self:usage", "Usage", "my-usage"),
    PageSpec("pages/models.py", "Models", ":material/model_training:", "models:read", "Tools", "models"),
    PageSpec("pages/users.py", "Users", ":material/group:", "users:read", "Admin", "users"),
    PageSpec("pages/audit.py", "Audit log", ":material/history:", "audit:read", "Admin", "audit"),
)
