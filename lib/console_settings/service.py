"""Saving a setting in the console: checked, gated (settings.change), audited before → after with secrets masked,
and put in effect in the running process without a restart (the runtime re-reads the saved values)."""

from __future__ import annotations

from lib.auth.gate import actor_name, perform
from lib.console_settings.effective import SettingValueError, deployment_source, parse_value, shown
from lib.console_settings.saved import save_value
from lib.core.settings import SETTINGS_SPEC


def change_setting(rt, actor, name: str, text: str | None):
    """Save `text` as `name`'s value (None or blank: forget the saved value, back to the default) and apply it.
    Refused with a SettingValueError, nothing saved: an unknown setting, one that needs a restart, one the
    environment or secrets.toml sets (it wins), a value out of its range. Returns the settings now in effect."""
    spec = SETTINGS_SPEC.get(name)
    before = rt.settings

    def change(conn):
        if spec is None:
            raise SettingValueError(f"{name!r} is not a setting")
        if not spec.editable:
            raise SettingValueError(
                f"{name} needs a restart: set it in the environment or secrets.toml, then restart the console"
            )
        fixed = deployment_source(rt.base_settings, name, rt.environ)
        if fixed is not None:
            raise SettingValueError(
                f"{name} is set in {'the environment' if fixed == 'environment' else fixed}, which wins over a value "
                "saved here: change it there"
            )
        if text is None or not str(text).strip():  # back to the default: the deployment's, which left it unset
            save_value(conn, name, None, by=actor_name(actor))
            return getattr(rt.base_settings, name)
        value = parse_value(name, text)
        save_value(conn, name, str(value), by=actor_name(actor))
        return value

    def details(value):
        return {"setting": name, "before": shown(name, getattr(before, name)), "after": shown(name, value)}

    perform(rt.engine, actor, "settings.change", name, change, details=details)
    return rt.reload_settings()
