"""The provider types the console knows: how each is named in LiteLLM, where its API lives, how its key looks, how
its connection is tested, and its colour (the usage charts' colour of the same provider, so one provider has one
colour everywhere)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lib.usage.charts import colour_of

AuthStyle = Literal["bearer", "x-api-key", "none", "query-key", "api-key-header"]


@dataclass(frozen=True)
class ExtraField:
    """A setting a type needs besides key and API base (Azure's api_version); pushed into the credential."""

    name: str
    label: str
    default: str
    required: bool = True


@dataclass(frozen=True)
class ConnectionTestSpec:
    """How to ask the provider itself for its model list: `path` appended to the API base, the auth style, extra
    headers and query parameters (`{api_version}` is filled from the extra fields)."""

    path: str
    auth: AuthStyle
    headers: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ProviderType:
    id: str  # LiteLLM's provider name (the CLI's --type), "openai_compatible" for a custom endpoint
    label: str
    litellm_prefix: str  # before "/" in litellm_params.model
    default_api_base: str  # "" = the operator must give one
    key_hint: str
    test: ConnectionTestSpec
    needs_key: bool = True
    extra_fields: tuple[ExtraField, ...] = field(default=())

    @property
    def litellm_provider(self) -> str:
        """custom_llm_provider in LiteLLM (what its usage data names the provider)."""
        return self.litellm_prefix

    @property
    def colour(self) -> str:
        return colour_of(self.id)


_BEARER_MODELS = ConnectionTestSpec("/models", "bearer")

PROVIDER_TYPES: dict[str, ProviderType] = {
    t.id: t
    for t in (
        ProviderType("openai", "OpenAI", "openai", "https://api.openai.com/v1", "sk-…", _BEARER_MODELS),
        ProviderType(
            "azure",
            "Azure OpenAI",
            "azure",
            "",
            "32 hex characters",
            ConnectionTestSpec("/openai/models", "api-key-header", params=(("api-version", "{api_version}"),)),
            extra_fields=(ExtraField("api_version", "API version", "2024-10-21"),),
        ),
        ProviderType(
            "anthropic",
            "Anthropic",
            "anthropic",
            "https://api.anthropic.com",
            "sk-ant-…",
            ConnectionTestSpec("/v1/models", "x-api-key", headers=(("anthropic-version", "2023-06-01"),)),
        ),
        ProviderType(
            "ollama",
            "Ollama",
            "ollama",
            "http://localhost:11434",
            "no key needed",
            ConnectionTestSpec("/api/tags", "none"),
            needs_key=False,
        ),
        ProviderType("together_ai", "Together AI", "together_ai", "https://api.together.xyz/v1", "…", _BEARER_MODELS),
        ProviderType(
            "openrouter", "OpenRouter", "openrouter", "https://openrouter.ai/api/v1", "sk-or-…", _BEARER_MODELS
        ),
        ProviderType(
            "nvidia_nim", "NVIDIA NIM", "nvidia_nim", "https://integrate.api.nvidia.com/v1", "nvapi-…", _BEARER_MODELS
        ),
        ProviderType(
            "huggingface", "Hugging Face", "huggingface", "https://router.huggingface.co/v1", "hf_…", _BEARER_MODELS
        ),
        ProviderType(
            "cohere", "Cohere", "cohere", "https://api.cohere.com", "…", ConnectionTestSpec("/v1/models", "bearer")
        ),
        ProviderType("groq", "Groq", "groq", "https://api.groq.com/openai/v1", "gsk_…", _BEARER_MODELS),
        ProviderType("mistral", "Mistral", "mistral", "https://api.mistral.ai/v1", "…", _BEARER_MODELS),
        ProviderType(
            "gemini",
            "Google Gemini",
            "gemini",
            "https://generativelanguage.googleapis.com",
            "AIza…",
            ConnectionTestSpec("/v1beta/models", "query-key"),
        ),
        ProviderType(
            "openai_compatible",
            "OpenAI-compatible (custom endpoint)",
            "openai",
            "",
            "the endpoint's key",
            _BEARER_MODELS,
        ),
    )
}


def provider_type(type_id: str) -> ProviderType:
    """The type of that id; KeyError for an unknown one (records.validate gives the message to show)."""
    return PROVIDER_TYPES[type_id]
