"""The models catalogue: sync from LiteLLM, browsing, and configuration tests."""
