"""CLI commands of the models tools: `test-config` and `sync-models` (wired into lib/cli.py by `add_commands`).

    python -m lib.cli test-config --api-base URL --api-key KEY --model NAME   # exit 0 only if the model is found
    python -m lib.cli sync-models [--wait SECONDS] [--allow-empty]             # exit 0 on success or partial

Both print one JSON object on stdout. The API key may also come from the environment (--api-key-env NAME)
so it stays out of shell history and `ps`; it is never printed, logged or audited.
"""

from __future__ import annotations

import json
import os
import sys

from lib.cli.args import Parser, seconds_arg, text_arg


def cmd_test_config(args, rt) -> int:
    from lib.catalog.probe import DEFAULT_TIMEOUT_S, test_configuration

    key = args.api_key
    if key is None and args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if key is None:
            print(f"error: environment variable {args.api_key_env} is not set", file=sys.stderr)
            return 2
    engine = None
    try:
        engine = rt.engine
    except Exception as exc:  # the test itself does not need the app database; only its audit row does
        print(f"warning: not audited (app database unavailable: {exc})", file=sys.stderr)
    result = test_configuration(
        engine, None, args.api_base, key or "", args.model, timeout_s=args.timeout or DEFAULT_TIMEOUT_S
    )
    print(json.dumps(result.as_dict()))
    return 0 if result.success else 1


def cmd_sync_models(args, rt) -> int:
    from lib.catalog.sync import ModelSyncError, SyncInProgress, run_model_sync
    from lib.services import recover_interrupted_work

    recover_interrupted_work(rt.engine)  # a CLI start: runs and the lease of dead syncs
    try:
        result = run_model_sync(rt, "cli", wait_s=args.wait, allow_empty=args.allow_empty)
    except SyncInProgress as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ModelSyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.result is not None:
            print(json.dumps(exc.result.as_dict()))
        return 1
    print(json.dumps(result.as_dict()))
    return 0


def add_commands(subparsers) -> None:
    t = subparsers.add_parser("test-config", help="check an OpenAI-compatible endpoint, key and model (GET /models)")
    t.add_argument(
        "--api-base",
        required=True,
        type=text_arg(2048),
        help="e.g. https://api.openai.com/v1 (a missing /v1 is handled)",
    )
    key = t.add_mutually_exclusive_group(required=True)
    key.add_argument("--api-key", help="the endpoint's API key (never stored or logged)")
    key.add_argument(
        "--api-key-env", metavar="NAME", type=text_arg(256), help="read the API key from this environment variable"
    )
    t.add_argument("--model", required=True, type=text_arg(256), help="backend model name, e.g. gpt-4o")
    t.add_argument("--timeout", type=seconds_arg(0, 300, low_included=False), default=None, help="seconds (default 10)")
    t.set_defaults(func=cmd_test_config)

    s = subparsers.add_parser("sync-models", help="sync the models catalogue from LiteLLM's /model/info")
    s.add_argument(
        "--wait",
        type=seconds_arg(0, 3600),
        default=120.0,
        help="seconds to wait for a sync already running elsewhere (default 120; 0 = refuse)",
    )
    s.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept an empty model list from LiteLLM (every model removed): mark all unavailable",
    )
    s.set_defaults(func=cmd_sync_models)


def main(argv: list[str] | None = None) -> int:
    """`python -m lib.cli.catalog ...`: the same two commands on their own (lib.cli wires them in too)."""
    from lib.core.settings import SettingsError, load_settings

    parser = Parser(prog="python -m lib.cli", description="LiteLLM Console models tools")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    from lib.runtime import Runtime

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rt = Runtime(settings, store_mode="write")
    try:
        return args.func(args, rt)
    finally:
        rt.close()


if __name__ == "__main__":
    sys.exit(main())
