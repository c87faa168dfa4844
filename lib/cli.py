"""Command line: `python -m lib.cli COMMAND ...` for analysts' cron jobs and scripting.

Works while the app is running (the usage store is multi-process safe). Every command prints JSON (or
the export) on stdout; bad arguments exit non-zero with one clear line on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from lib.config import SettingsError, load_settings


class CliError(Exception):
    pass


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _range(args) -> tuple[date, date]:
    if args.start > args.end:
        raise CliError(f"--start {args.start} is after --end {args.end}")
    return args.start, args.end


def cmd_backfill(args, settings) -> int:
    from lib.services import run_backfill
    from lib.store import UsageStore
    start, end = _range(args)
    summary = run_backfill(settings, "cli", start=start, end=end, force=args.force,
                           store=UsageStore.writer(settings.store_dir))     # the app's process serves
    print(json.dumps(summary.as_dict()))
    return 0


def cmd_refresh_today(args, settings) -> int:
    from lib.services import run_refresh_today
    from lib.store import UsageStore
    summary = run_refresh_today(settings, "cli", wait=True, store=UsageStore.writer(settings.store_dir))
    print(json.dumps(summary.as_dict()))
    return 0


def cmd_export(args, settings) -> int:
    from lib.exports import render_export
    from lib.queries import Filters, QueryError, resolve_api_keys
    from lib.store import UsageStore
    start, end = _range(args)
    store = UsageStore(settings.store_dir, window=(start, end))   # reads only the local store
    try:
        keys = resolve_api_keys(store, args.api_key or [])
        f = Filters.of(models=args.model, providers=args.provider, users=args.user, api_keys=keys, teams=args.team)
        text = render_export(store, start, end, args.breakdown, f, args.format)
    except QueryError as exc:
        raise CliError(str(exc)) from None
    if args.output:
        Path(args.output).write_text(text)
        print(json.dumps({"output": args.output, "bytes": len(text.encode())}), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from lib.queries import BREAKDOWNS
    p = argparse.ArgumentParser(prog="python -m lib.cli", description="LiteLLM Console command line")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("backfill", help="fetch missing or partial days of a range from LiteLLM")
    b.add_argument("--start", type=_date, required=True)
    b.add_argument("--end", type=_date, required=True)
    b.add_argument("--force", action="store_true", help="re-fetch complete days too (rebuild the range)")
    b.set_defaults(func=cmd_backfill)

    r = sub.add_parser("refresh-today", help="re-fetch today (and yesterday until complete)")
    r.set_defaults(func=cmd_refresh_today)

    e = sub.add_parser("export", help="export a breakdown from the local store as CSV or JSON")
    e.add_argument("--start", type=_date, required=True)
    e.add_argument("--end", type=_date, required=True)
    e.add_argument("--breakdown", choices=BREAKDOWNS, required=True)
    e.add_argument("--format", choices=("csv", "json"), default="csv")
    e.add_argument("--model", action="append", help="underlying model, e.g. openai/gpt-4o (repeatable)")
    e.add_argument("--provider", action="append")
    e.add_argument("--user", action="append", help="LiteLLM user id")
    e.add_argument("--api-key", action="append", metavar="HASH_OR_ALIAS")
    e.add_argument("--team", action="append")
    e.add_argument("--output", help="write here instead of stdout")
    e.set_defaults(func=cmd_export)

    from lib.cli_models import add_commands as add_model_commands
    from lib.cli_users import add_user_commands
    add_user_commands(sub)
    add_model_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        return args.func(args, settings)
    except (SettingsError, CliError, ValueError, PermissionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # LiteLLM down, ingest errors: one line, non-zero
        from lib.ingest import IngestError
        from lib.litellm_client import LiteLLMError
        if isinstance(exc, (LiteLLMError, IngestError)):
            print(f"error: {exc}", file=sys.stderr)
            if isinstance(exc, IngestError):
                print(json.dumps(exc.summary.as_dict()))
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
