"""LiteLLM Console library: everything that decides, importable without a running Streamlit."""
