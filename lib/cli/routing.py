"""CLI commands of routing (wired into lib.cli by `add_commands`): JSON on stdout, exit 0 on success, 2 on bad input
or a refusal (one line on stderr).

    python -m lib.cli routing export --output routing.yaml
    python -m lib.cli routing import --file routing.yaml
    python -m lib.cli routing plan
    python -m lib.cli routing apply [--dry-run]
    python -m lib.cli routing adopt
    python -m lib.cli routing import-litellm-config --file config.yaml [--dry-run]
    python -m lib.cli litellm-config --output config.yaml
"""

from __future__ import annotations

import json
from pathlib import Path

from lib.cli.args import text_arg
from lib.routing.state import RoutingInputError


def _print(value) -> None:
    print(json.dumps(value, default=str))


def _write(path: str, text: str) -> None:
    Path(path).write_text(text)


def cmd_export(args, rt) -> int:
    from lib.routing.service import export_yaml

    _write(args.output, export_yaml(rt))
    _print({"written": args.output})
    return 0


def cmd_import(args, rt) -> int:
    from lib.routing.service import import_yaml
    from lib.routing.state import state_json

    try:
        text = Path(args.file).read_text()
    except OSError as exc:
        raise RoutingInputError(f"--file: cannot read {args.file} ({exc.strerror or exc})") from None
    _print({"desired": state_json(import_yaml(rt, None, text)), "applied": False})
    return 0


def cmd_plan(args, rt) -> int:
    from lib.routing.service import preview_plan

    _print(preview_plan(rt).as_dict())
    return 0


def cmd_apply(args, rt) -> int:
    from lib.routing.service import apply

    _print(apply(rt, None, dry_run=args.dry_run).as_dict())
    return 0


def cmd_adopt(args, rt) -> int:
    from lib.routing.service import adopt
    from lib.routing.state import state_json

    _print({"adopted": state_json(adopt(rt, None))})
    return 0


def cmd_import_litellm_config(args, rt) -> int:
    from lib.routing.service import import_litellm_config

    try:
        text = Path(args.file).read_text()
    except OSError as exc:
        raise RoutingInputError(f"--file: cannot read {args.file} ({exc.strerror or exc})") from None
    _print(import_litellm_config(rt, None, text, dry_run=args.dry_run))
    return 0


def cmd_litellm_config(args, rt) -> int:
    from lib.routing.service import litellm_config_export

    text, variables = litellm_config_export(rt)
    _write(args.output, text)
    _print(
        {
            "written": args.output,
            "key_variables": [v.name for v in variables],
            "variables": [v.as_dict() for v in variables],
        }
    )
    return 0


def add_commands(subparsers) -> None:
    path = text_arg(4096)
    p = subparsers.add_parser("routing", help="the console's routing as code: export, import, plan, apply, adopt")
    sub = p.add_subparsers(dest="routing_command", required=True)
    e = sub.add_parser("export", help="write the desired routing (and providers, no keys) as YAML")
    e.add_argument("--output", required=True, type=path)
    e.set_defaults(func=cmd_export)
    i = sub.add_parser("import", help="validate a routing YAML and store it as the desired routing (not applied)")
    i.add_argument("--file", required=True, type=path)
    i.set_defaults(func=cmd_import)
    sub.add_parser("plan", help="what applying the desired routing would change in LiteLLM (JSON)").set_defaults(
        func=cmd_plan
    )
    a = sub.add_parser("apply", help="apply the desired routing to LiteLLM")
    a.add_argument("--dry-run", action="store_true", help="show the plan only")
    a.set_defaults(func=cmd_apply)
    sub.add_parser("adopt", help="take LiteLLM's routing as the console's (LiteLLM unchanged)").set_defaults(
        func=cmd_adopt
    )
    il = sub.add_parser(
        "import-litellm-config",
        help="read a LiteLLM config.yaml: add its providers (keys from its os.environ/NAME variables) and store its "
        "routing as the desired routing (not applied)",
    )
    il.add_argument("--file", required=True, type=path)
    il.add_argument("--dry-run", action="store_true", help="validate and show what would be imported; change nothing")
    il.set_defaults(func=cmd_import_litellm_config)
    c = subparsers.add_parser("litellm-config", help="write a LiteLLM config.yaml for the current state")
    c.add_argument("--output", required=True, type=path)
    c.set_defaults(func=cmd_litellm_config)
