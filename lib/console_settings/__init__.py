"""Settings an admin saves in the console (the Settings page): stored overrides, the effective settings and where
each value comes from, and the gated change. The settings' one description is lib.core.settings.SETTINGS_SPEC."""
