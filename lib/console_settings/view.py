"""What the Settings page shows of each setting: its value in effect (secrets masked), where it comes from, its
allowed range, help, whether it needs a restart, and whether it can be changed here (and if not, why)."""

from __future__ import annotations

from dataclasses import dataclass

from lib.console_settings.effective import shown
from lib.core.settings import GROUPS, SETTINGS_SPEC, Settings, SettingSpec


@dataclass(frozen=True)
class SettingRow:
    spec: SettingSpec
    value: str | None  # as shown: a secret masked, None when unset
    source: str
    locked: str | None  # why it cannot be changed here; None: an admin may save it

    @property
    def name(self) -> str:
        return self.spec.name


def setting_rows(settings: Settings, sources: dict[str, str]) -> dict[str, list[SettingRow]]:
    """Every setting by group (in the README's order), as the page shows it."""
    groups: dict[str, list[SettingRow]] = {g: [] for g in GROUPS}
    for name, spec in SETTINGS_SPEC.items():
        source = sources.get(name, "default")
        if not spec.editable:
            locked = "Needs a restart: set it in the environment or secrets.toml."
        elif source in ("environment", "secrets.toml"):
            where = "the environment" if source == "environment" else "secrets.toml"
            locked = f"Set in {where}, which wins over a value saved here: change it there."
        else:
            locked = None
        groups[spec.group].append(SettingRow(spec, shown(name, getattr(settings, name)), source, locked))
    return {g: rows for g, rows in groups.items() if rows}


def rows_table(rows: list[SettingRow]) -> list[dict]:
    """One group's rows as the page's table."""
    return [
        {
            "setting": r.name,
            "value": "" if r.value is None else r.value,
            "source": r.source,
            "allowed": r.spec.allowed,
            "restart required": "yes" if r.spec.restart_required else "",
            "meaning": r.spec.help,
        }
        for r in rows
    ]
