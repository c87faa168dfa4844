"""The models catalogue: its table, LiteLLM's model list parsed, the sync, browsing, and configuration tests."""
