"""Routing: strategy, fallbacks, aliases, use cases, power levels and smart routing, planned and applied to LiteLLM."""
