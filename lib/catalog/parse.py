"""Turning LiteLLM's `/model/info` into catalogue rows (pure: no database, no LiteLLM call).

`/model/info` lists one entry per deployment; a public name with several deployments is merged (see `_merge`),
and an alias (router `model_group_alias`) repeats its target's `model_info.id`, so it is kept as its own row with
`alias_of` set. Backend API keys are never read: only the fields listed in `TRACKED` are taken from LiteLLM, and
the API base loses any user:password and query string.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from lib.core.urls import without_credentials

PRICE_REL_TOL, PRICE_ABS_TOL = 1e-6, 1e-12  # 1e-12 $/token = $0.000001 per 1M tokens

# Our capability name -> LiteLLM's model_info flag. "embeddings" comes from mode == "embedding".
CAPABILITIES = {
    "vision": "supports_vision",
    "function_calling": "supports_function_calling",
    "tool_choice": "supports_tool_choice",
    "parallel_function_calling": "supports_parallel_function_calling",
    "response_schema": "supports_response_schema",
    "reasoning": "supports_reasoning",
    "prompt_caching": "supports_prompt_caching",
    "pdf_input": "supports_pdf_input",
    "audio_input": "supports_audio_input",
    "audio_output": "supports_audio_output",
    "web_search": "supports_web_search",
    "system_messages": "supports_system_messages",
    "embedding_image_input": "supports_embedding_image_input",
}
CAPABILITY_LABELS = {
    "vision": "Vision",
    "function_calling": "Function calling",
    "tool_choice": "Tool choice",
    "parallel_function_calling": "Parallel function calls",
    "response_schema": "Structured output",
    "reasoning": "Reasoning",
    "prompt_caching": "Prompt caching",
    "pdf_input": "PDF input",
    "audio_input": "Audio input",
    "audio_output": "Audio output",
    "web_search": "Web search",
    "system_messages": "System messages",
    "embedding_image_input": "Image embeddings",
    "embeddings": "Embeddings",
}
# Fields whose change makes a model "updated" (plus availability: a model that returns is updated).
TRACKED = (
    "underlying_model",
    "provider",
    "api_base",
    "mode",
    "input_cost_per_token",
    "output_cost_per_token",
    "max_input_tokens",
    "max_output_tokens",
    "capabilities",
    "tpm",
    "rpm",
    "litellm_model_ids",
    "deployments",
    "alias_of",
)
PRICES = ("input_cost_per_token", "output_cost_per_token")


INTEGER_MAX = 2**31 - 1  # the catalogue's Integer columns (32 bits on PostgreSQL)


def _clean_api_base(value: Any) -> str | None:
    """The API base without user:password@ and without a query string (some providers put keys there); None
    for what is not text, or looks like a URL but cannot be parsed or cleaned."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        parts = urlsplit(value)
        if parts.scheme and parts.netloc:
            return without_credentials(value)
    except ValueError:
        return None
    return value if "://" not in value and "@" not in value else None


def _number(info: dict, params: dict, name: str, issues: list[str], integer: bool = False):
    """A non-negative number from model_info (else litellm_params); a bad value is an issue and None."""
    raw = info.get(name)
    if raw is None:
        raw = params.get(name)
    if raw is None:
        return None
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = float(raw)
        if not math.isfinite(value) or value < 0 or (integer and value > INTEGER_MAX):
            raise ValueError
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond any float
        issues.append(f"invalid {name} {reprlib.repr(raw)} (ignored)")
        return None
    if integer:
        return int(value)
    return value


def _provider(info: dict, params: dict) -> str | None:
    provider = info.get("litellm_provider")
    if isinstance(provider, str) and provider:
        return provider
    model = params.get("model")
    if isinstance(model, str) and "/" in model:
        return model.split("/", 1)[0]
    return None


def _deployment(entry) -> dict:
    """One deployment's tracked fields and issues (only the fields we track: never a key)."""
    info, params = entry.model_info, entry.litellm_params
    issues: list[str] = []
    mode = info.get("mode") if isinstance(info.get("mode"), str) else None
    caps = sorted(name for name, flag in CAPABILITIES.items() if info.get(flag) is True)
    if mode == "embedding":
        caps = sorted(set(caps) | {"embeddings"})
    prices = {p: _number(info, params, p, issues) for p in PRICES}
    missing = [p for p in PRICES if prices[p] is None and not (p == "output_cost_per_token" and mode == "embedding")]
    if missing:
        issues.append(f"no pricing in LiteLLM ({', '.join(missing)}): its spend is recorded as 0")
    max_in = _number(info, params, "max_input_tokens", issues, integer=True)
    max_out = _number(info, params, "max_output_tokens", issues, integer=True)
    if max_in is None and max_out is None:
        max_in = _number(info, params, "max_tokens", issues, integer=True)
    underlying = params.get("model") if isinstance(params.get("model"), str) and params.get("model") else None
    if underlying is None:
        issues.append("no underlying model (litellm_params.model)")
    model_id = info.get("id")
    return {
        "underlying_model": underlying,
        "provider": _provider(info, params),
        "api_base": _clean_api_base(params.get("api_base")),
        "mode": mode,
        **prices,
        "max_input_tokens": max_in,
        "max_output_tokens": max_out,
        "capabilities": caps,
        "tpm": _number(info, params, "tpm", issues, integer=True),
        "rpm": _number(info, params, "rpm", issues, integer=True),
        "id": str(model_id) if model_id not in (None, "") else None,
        "issues": issues,
    }


def _joined(values: Iterable) -> str | None:
    distinct = sorted({v for v in values if v})
    return ", ".join(distinct) if distinct else None


def _merge(deployments: list[dict]) -> dict:
    """One public name's deployments as one row, independent of LiteLLM's order: text fields list the
    distinct values, prices the highest (what a request may cost), context sizes the smallest (what every
    deployment accepts), capabilities those all deployments have, tpm/rpm the sum (the group's capacity)."""

    def numbers(name):
        return [d[name] for d in deployments if d[name] is not None]

    def total(name):
        vals = numbers(name)
        return sum(vals) if vals else None

    caps = set(deployments[0]["capabilities"])
    for d in deployments[1:]:
        caps &= set(d["capabilities"])
    issues: list[str] = []
    for d in deployments:
        for issue in d["issues"]:
            if issue not in issues:
                issues.append(issue)
    return {
        "underlying_model": _joined(d["underlying_model"] for d in deployments),
        "provider": _joined(d["provider"] for d in deployments),
        "api_base": _joined(d["api_base"] for d in deployments),
        "mode": _joined(d["mode"] for d in deployments),
        **{p: (max(numbers(p)) if numbers(p) else None) for p in PRICES},
        **{t: (min(numbers(t)) if numbers(t) else None) for t in ("max_input_tokens", "max_output_tokens")},
        "capabilities": sorted(caps),
        "tpm": total("tpm"),
        "rpm": total("rpm"),
        "litellm_model_ids": sorted({d["id"] for d in deployments if d["id"]}),
        "deployments": len(deployments),
        "issues": issues,
    }


def catalogue_rows(entries) -> tuple[dict[str, dict], list[dict]]:
    """`/model/info` entries -> ({public name: row}, errors). Pure: the sync's diff input."""
    by_name: dict[str, list[dict]] = {}
    first_name_of_id: dict[str, str] = {}
    seen: set[tuple[str, str | None]] = set()
    for entry in entries:
        name = (entry.model_name or "").strip()
        if not name:
            continue
        dep = _deployment(entry)
        if dep["id"] is not None:
            if (name, dep["id"]) in seen:
                continue  # the same deployment listed twice under one name
            seen.add((name, dep["id"]))
            first_name_of_id.setdefault(dep["id"], name)
        by_name.setdefault(name, []).append(dep)
    rows, errors = {}, []
    unnamed = sum(1 for e in entries if not (e.model_name or "").strip())
    if unnamed:
        errors.append({"model": "(unnamed)", "message": f"{unnamed} deployment(s) without a model_name skipped"})
    for name in sorted(by_name):
        row = _merge(by_name[name])
        # An alias repeats deployments first listed under another name (LiteLLM lists aliases last).
        owners = {first_name_of_id[i] for i in row["litellm_model_ids"]}
        row["alias_of"] = next(iter(owners)) if len(owners) == 1 and name not in owners else None
        rows[name] = row
        errors.extend({"model": name, "message": m} for m in row["issues"])
    return rows, errors


def _same(field_name: str, old, new) -> bool:
    if field_name in PRICES:
        if old is None or new is None:
            return old is None and new is None
        return math.isclose(float(old), float(new), rel_tol=PRICE_REL_TOL, abs_tol=PRICE_ABS_TOL)
    if field_name in ("capabilities", "litellm_model_ids"):
        return sorted(old or []) == sorted(new or [])
    return old == new


def changed_fields(old: dict, new: dict) -> list[str]:
    return [f for f in TRACKED if not _same(f, old.get(f), new.get(f))]
