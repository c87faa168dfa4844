"""The Streamlit app's runtime: built once per process (and per distinct settings) with `st.cache_resource`.

Settings come from the environment and `.streamlit/secrets.toml` as Streamlit reads it (`st.secrets`, which
AppTest can set too), so every page of every session gets the same runtime object for the same settings.
"""

from __future__ import annotations

import streamlit as st

from lib.core.settings import Settings, SettingsError, load_settings
from lib.runtime import Runtime


def current_settings() -> Settings:
    """Raises SettingsError (one line naming the variable) on a bad setting."""
    try:
        secrets = st.secrets.to_dict()
    except FileNotFoundError:  # no secrets.toml anywhere: the environment alone
        secrets = {}
    except Exception as exc:  # not valid TOML
        raise SettingsError(f"secrets.toml: {exc}") from None
    return load_settings(secrets=secrets)


@st.cache_resource(show_spinner=False, hash_funcs={Settings: lambda s: s.model_dump_json()})
def runtime_for(settings: Settings) -> Runtime:
    rt = Runtime(settings)
    rt.load_saved_settings()  # the values saved on the Settings page
    return rt


def runtime() -> Runtime:
    return runtime_for(current_settings())
