"""CLI commands of the providers (wired into lib.cli by `add_commands`); every one prints JSON on stdout, exits 0 on
success and 2 on bad input or a refusal (one line on stderr), and never prints a key (keys come from the
environment: --api-key-env NAME, --new-key-env NAME).

    python -m lib.cli providers list
    python -m lib.cli providers add --name N --type T [--api-base URL] --api-key-env VAR [--priority P]
        [--no-auto-fallback] [--model PUBLIC=PROVIDER_MODEL ...]
    python -m lib.cli providers test --name N
    python -m lib.cli providers disable|enable|delete --name N
    python -m lib.cli providers adopt
    python -m lib.cli rotate-encryption-key --new-key-env VAR
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict

from lib.cli.args import text_arg
from lib.core.errors import ConsoleError
from lib.providers.types import PROVIDER_TYPES


class ProviderCliError(ConsoleError):
    """A providers command cannot run as asked (e.g. an empty key variable); one line, exit 2."""


def _env_value(name: str, what: str) -> str:
    value = os.environ.get(name, "")
    if not value.strip():
        raise ProviderCliError(f"{what}: the environment variable {name} is not set or empty")
    return value


def _model_arg(text: str) -> tuple[str, str]:
    public, sep, backend = text.partition("=")
    if not sep or not public.strip() or not backend.strip():
        raise argparse.ArgumentTypeError(f"expected PUBLIC=PROVIDER_MODEL, got {text!r}")
    return public.strip(), backend.strip()


def _priority_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to 100, not {text!r}")
    return value


def _print(value) -> None:
    print(json.dumps(value, default=str))


def _view_dict(view) -> dict:
    d = asdict(view)
    d["models"] = [asdict(m) for m in view.models]
    return d


def cmd_list(args, rt) -> int:
    from lib.providers.service import list_providers

    _print([_view_dict(v) for v in list_providers(rt)])
    return 0


def cmd_add(args, rt) -> int:
    from lib.providers.records import ProviderInput
    from lib.providers.service import add_provider

    key = _env_value(args.api_key_env, "--api-key-env") if args.api_key_env else None
    inp = ProviderInput(
        name=args.name,
        type=args.type,
        api_key=key,
        api_key_env=args.api_key_env,
        api_base=args.api_base,
        priority=args.priority,
        auto_fallback=not args.no_auto_fallback,
    )
    _print({"name": args.name, **add_provider(rt, None, inp, args.model or []).as_dict()})
    return 0


def cmd_test(args, rt) -> int:
    from lib.providers.service import test_provider

    result = test_provider(rt, None, args.name)
    _print(result.as_dict())
    if not result.success:  # the provider refused or could not be reached: a refusal (exit 2, one line)
        print(f"error: {result.message}", file=sys.stderr)
        return 2
    return 0


def _toggle(enabled: bool):
    def run(args, rt) -> int:
        from lib.providers.service import set_enabled

        _print({"name": args.name, "enabled": enabled, **set_enabled(rt, None, args.name, enabled).as_dict()})
        return 0

    return run


def cmd_delete(args, rt) -> int:
    from lib.providers.service import delete_provider

    _print({"name": args.name, "deleted": True, **delete_provider(rt, None, args.name).as_dict()})
    return 0


def cmd_adopt(args, rt) -> int:
    from lib.providers.service import adopt, adoption_candidates

    adopted = adopt(rt, None, args.name or None)
    left = [
        {"name": c.name, "models": c.models, "reason": c.reason} for c in adoption_candidates(rt) if not c.adoptable
    ]
    _print({"adopted": adopted, "not_adopted": left})
    return 0


def cmd_rotate(args, rt) -> int:
    from lib.providers.service import rotate_encryption_key

    count = rotate_encryption_key(rt, None, _env_value(args.new_key_env, "--new-key-env"))
    _print(
        {
            "re_encrypted": count,
            "next": "set CONSOLE_ENCRYPTION_KEY to the new key and restart the app"
            if rt.settings.CONSOLE_ENCRYPTION_KEY or not rt.settings.demo_mode
            else "the generated key file now holds the new key",
        }
    )
    return 0


def add_commands(subparsers) -> None:
    name = text_arg(64)
    p = subparsers.add_parser("providers", help="manage LiteLLM's upstream providers (JSON out)")
    sub = p.add_subparsers(dest="providers_command", required=True)

    sub.add_parser("list", help="every provider with its status and models (keys masked)").set_defaults(func=cmd_list)

    a = sub.add_parser("add", help="add a provider and its models to LiteLLM")
    a.add_argument("--name", required=True, type=name)
    a.add_argument("--type", required=True, choices=sorted(PROVIDER_TYPES))
    a.add_argument("--api-base", type=text_arg(1024), help="default: the type's endpoint")
    a.add_argument(
        "--api-key-env",
        metavar="VAR",
        type=text_arg(256),
        help="environment variable holding the key (its name is kept: litellm-config writes os.environ/VAR)",
    )
    a.add_argument("--priority", type=_priority_arg, default=50, help="1 (tried first) to 100; default 50")
    a.add_argument("--no-auto-fallback", action="store_true", help="take no part in failover")
    a.add_argument("--model", action="append", type=_model_arg, metavar="PUBLIC=PROVIDER_MODEL")
    a.set_defaults(func=cmd_add)

    t = sub.add_parser("test", help="test a provider's connection with its stored key")
    t.add_argument("--name", required=True, type=name)
    t.set_defaults(func=cmd_test)

    for command, func, text in (
        ("disable", _toggle(False), "remove its models from LiteLLM (the credential stays)"),
        ("enable", _toggle(True), "put its models back in LiteLLM"),
        ("delete", cmd_delete, "remove it, its credential and its models from LiteLLM"),
    ):
        c = sub.add_parser(command, help=text)
        c.add_argument("--name", required=True, type=name)
        c.set_defaults(func=func)

    ad = sub.add_parser("adopt", help="adopt LiteLLM's existing database providers (LiteLLM unchanged)")
    ad.add_argument("--name", action="append", type=name, help="only these (default: every adoptable one)")
    ad.set_defaults(func=cmd_adopt)

    r = subparsers.add_parser("rotate-encryption-key", help="re-encrypt the stored provider keys under a new key")
    r.add_argument("--new-key-env", required=True, metavar="VAR", type=text_arg(256))
    r.set_defaults(func=cmd_rotate)
