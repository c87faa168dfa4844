"""Demo mode's providers: what the Providers page shows at a demo's first start, and the demo proxy kept in line
with the console's records.

At the first start (the console has never had a provider: no provider record, no providers.* audit row), two of
the demo proxy's database providers are adopted (OpenAI and Anthropic, whose traffic fills the usage store) and an
Azure OpenAI backup for gpt-4o is added (priority 60 behind OpenAI: LiteLLM's order 2), all audited as the
start-up ("bootstrap"). Mistral stays adoptable and the config file's deployments (Gemini on Vertex AI, a local
Ollama) are shown read-only. Deleting them later is not undone: the seed runs once per console database.
"""

from __future__ import annotations

import logging

from lib.auth.accounts import BOOTSTRAP
from lib.auth.audit import audit_actions
from lib.providers import service
from lib.providers.records import ProviderInput, load_providers

log = logging.getLogger(__name__)
ADOPTED = ("openai-prod", "anthropic-prod")
AZURE_BACKUP = ProviderInput(
    "azure-backup",
    "azure",
    api_key="demo-azure-key-00000000000000000000",  # demo data: the demo proxy keeps it in memory only
    api_base="https://demo-eastus.openai.azure.com",
    display_name="Azure OpenAI (backup)",
    extra={"api_version": "2024-10-21"},
    priority=60,
)


def first_start(rt) -> bool:
    with rt.engine.connect() as conn:
        if load_providers(conn):
            return False
    return not any(a.startswith("providers.") for a in audit_actions(rt.engine))


def seed(rt) -> bool:
    """Seed the demo's providers if this is the console's first start in demo mode; True when it did."""
    if not rt.settings.demo_mode or not first_start(rt):
        return False
    service.adopt(rt, BOOTSTRAP, list(ADOPTED))
    service.add_provider(rt, BOOTSTRAP, AZURE_BACKUP, [("gpt-4o", "gpt-4o")])
    return True
