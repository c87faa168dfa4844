"""Talking to LiteLLM: the HTTP client, the response schemas, and demo mode's embedded fake proxy."""
