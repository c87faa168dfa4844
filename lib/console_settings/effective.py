"""The settings in effect and where each comes from: environment > secrets.toml > saved in the console > default.

A deployment's settings (`base`: what lib.core.settings.load_settings read from the environment and secrets.toml)
win over the console's saved values, which only fill the editable settings the deployment left unset.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ValidationError

from lib.core.errors import ConsoleError
from lib.core.settings import SETTINGS_SPEC, Settings

log = logging.getLogger(__name__)

Source = Literal["environment", "secrets.toml", "saved in the console", "default"]
MASK = "••••••••"


class SettingValueError(ConsoleError, ValueError):
    """A value an admin typed is not allowed; the message names the setting and its allowed range."""


def deployment_source(base: Settings, name: str, environ: Mapping[str, str]) -> Source | None:
    """Where the deployment set `name` (None: it did not). A value the settings were built with that is not in the
    environment came from secrets.toml (or from the test that built them)."""
    if environ.get(name, "") != "":
        return "environment"
    if name in base.model_fields_set:
        return "secrets.toml"
    return None


def parse_value(name: str, text: str | None) -> Any:
    """`text` as the setting's value (None or blank: unset), checked by the same rules as at start; a bad one
    raises SettingValueError naming the allowed range (never echoing a secret)."""
    spec = SETTINGS_SPEC[name]
    text = None if text is None or not str(text).strip() else str(text).strip()
    try:
        return getattr(Settings.model_validate({name: text} if text is not None else {}), name)
    except ValidationError as exc:
        err = exc.errors()[0]
        why = err["msg"].removeprefix("Value error, ")
        allowed = f"must be {spec.allowed}" if spec.allowed else why
        got = "" if spec.secret else f" (got {text!r})"
        out_of_range = err["type"] in ("greater_than", "greater_than_equal", "less_than_equal", "literal_error")
        detail = f"; {why}" if spec.allowed and not out_of_range else ""  # e.g. not a number
        raise SettingValueError(f"{name} {allowed}{got}{detail}") from None


def effective_settings(
    base: Settings, saved: Mapping[str, str], environ: Mapping[str, str]
) -> tuple[Settings, dict[str, Source]]:
    """The settings in effect and each one's source. A saved value the deployment overrides, of a setting that is
    no longer editable, or no longer valid (a range narrowed by an upgrade) is ignored (logged)."""
    sources: dict[str, Source] = {}
    update = {}
    for name, spec in SETTINGS_SPEC.items():
        fixed = deployment_source(base, name, environ)
        if fixed is not None:
            sources[name] = fixed
        elif name in saved and spec.editable:
            try:
                update[name] = parse_value(name, saved[name])
            except SettingValueError as exc:
                log.warning("ignoring the saved setting: %s", exc)
                sources[name] = "default"
            else:
                sources[name] = "saved in the console"
        else:
            sources[name] = "default"
    return (base.model_copy(update=update) if update else base), sources


def shown(name: str, value: Any) -> str | None:
    """A value as the page and the audit log show it: a secret masked, unset as None."""
    if value is None:
        return None
    return MASK if SETTINGS_SPEC[name].secret else str(value)
