"""Providers: LiteLLM's upstream providers (a credential each, plus the deployments that use it), managed from the
console and applied to a real LiteLLM (see lib/providers/plan.py for how the console's records map onto it)."""
