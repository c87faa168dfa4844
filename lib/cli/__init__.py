"""Command line: `python -m lib.cli COMMAND ...` for analysts' cron jobs and scripting.

Works while the app is running (the usage store is multi-process safe). Every command prints JSON (or
the export) on stdout; bad arguments exit non-zero with one clear line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, timedelta
from pathlib import Path

from lib.cli.args import Parser, text_arg
from lib.core.clock import utcnow
from lib.core.errors import ConsoleError
from lib.core.settings import load_settings
from lib.runtime import Runtime

EARLIEST_DATE = date(2020, 1, 1)  # before any LiteLLM proxy: a typo, not history to fetch or export


class CliError(ConsoleError):
    """A command that cannot run as asked (e.g. --start after --end); one line, exit 2."""


def _date(text: str) -> date:
    """A UTC day from EARLIEST_DATE to tomorrow (a user ahead of UTC may already be in it)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
    latest = utcnow().date() + timedelta(days=1)
    if not EARLIEST_DATE <= day <= latest:
        raise argparse.ArgumentTypeError(
            f"{day} is outside the dates this console keeps ({EARLIEST_DATE} to {latest}, UTC)"
        )
    return day


def _output_path(text: str) -> Path:
    """A file to write: its folder must exist and it must not be a folder itself."""
    path = Path(text_arg(4096)(text))
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"no folder {path.parent} to write {path.name} in")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {text}: permission denied")
    return path


def _range(args) -> tuple[date, date]:
    if args.start > args.end:
        raise CliError(f"--start {args.start} is after --end {args.end}")
    return args.start, args.end


def _recover(rt) -> None:
    """A CLI start cleans what interrupted runs left (the runtime's store is write-only: the app's process serves)."""
    from lib.services import recover_interrupted_work

    recover_interrupted_work(rt.engine, rt.store)


def cmd_backfill(args, rt) -> int:
    from lib.services import run_backfill

    # without --start: the last BACKFILL_DAYS days up to --end (the setting in effect, saved in the console too)
    end = args.end or utcnow().date()
    start = args.start or end - timedelta(days=max(rt.settings.BACKFILL_DAYS - 1, 0))
    if start > end:
        raise CliError(f"--start {start} is after --end {end}")
    _recover(rt)
    summary = run_backfill(rt, "cli", start=start, end=end, force=args.force)
    print(json.dumps(summary.as_dict()))
    return 0


def cmd_refresh_today(args, rt) -> int:
    from lib.services import run_refresh_today

    _recover(rt)
    summary = run_refresh_today(rt, "cli", wait=True)
    print(json.dumps(summary.as_dict()))
    return 0


def cmd_export(args, rt) -> int:
    from lib.usage.exports import render_export
    from lib.usage.queries import Filters, QueryError, resolve_api_keys
    from lib.usage.store import UsageStore

    start, end = _range(args)
    store = UsageStore(rt.settings.store_dir, window=(start, end))  # reads only the local store, these days
    try:
        keys = resolve_api_keys(store, args.api_key or [])
        f = Filters.of(models=args.model, providers=args.provider, users=args.user, api_keys=keys, teams=args.team)
        text = render_export(store, start, end, args.breakdown, f, args.format)
    except QueryError as exc:
        raise CliError(str(exc)) from None
    if args.output:
        data = text.encode()
        try:
            args.output.write_bytes(data)
        except OSError as exc:  # checked when parsed, but the disk may be full or the folder gone since
            raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        print(json.dumps({"output": str(args.output), "bytes": len(data)}), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from lib.usage.queries import BREAKDOWNS

    p = Parser(prog="python -m lib.cli", description="LiteLLM Console command line")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("backfill", help="fetch missing or partial days of a range from LiteLLM")
    b.add_argument("--start", type=_date, help="default: BACKFILL_DAYS days before --end")
    b.add_argument("--end", type=_date, help="default: today (UTC)")
    b.add_argument("--force", action="store_true", help="re-fetch complete days too (rebuild the range)")
    b.set_defaults(func=cmd_backfill)

    r = sub.add_parser("refresh-today", help="re-fetch today (and yesterday until complete)")
    r.set_defaults(func=cmd_refresh_today)

    e = sub.add_parser("export", help="export a breakdown from the local store as CSV or JSON")
    e.add_argument("--start", type=_date, required=True)
    e.add_argument("--end", type=_date, required=True)
    e.add_argument("--breakdown", choices=BREAKDOWNS, required=True)
    e.add_argument("--format", choices=("csv", "json"), default="csv")
    value = text_arg(1000)
    e.add_argument("--model", action="append", type=value, help="underlying model, e.g. openai/gpt-4o (repeatable)")
    e.add_argument("--provider", action="append", type=value)
    e.add_argument("--user", action="append", type=value, help="LiteLLM user id")
    e.add_argument("--api-key", action="append", type=value, metavar="HASH_OR_ALIAS")
    e.add_argument("--team", action="append", type=value)
    e.add_argument("--output", type=_output_path, help="write here instead of stdout")
    e.set_defaults(func=cmd_export, saved_settings=False)  # reads the store only: no app database to open

    from lib.cli.catalog import add_commands as add_model_commands
    from lib.cli.providers import add_commands as add_provider_commands
    from lib.cli.routing import add_commands as add_routing_commands
    from lib.cli.users import add_user_commands

    add_user_commands(sub)
    add_model_commands(sub)
    add_provider_commands(sub)
    add_routing_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    rt = None
    try:
        rt = Runtime(load_settings(), store_mode="write")  # the process's one runtime; the app serves the store
        if getattr(args, "saved_settings", True):
            # what an admin saved on the Settings page counts here too (e.g. the alert channels refresh-today's
            # budget alerts go to); only commands that use the app database anyway read it
            rt.load_saved_settings()
        return args.func(args, rt)
    except ConsoleError as exc:  # refused, bad input (exit 2); LiteLLM down, ingest errors (exit 1): one line
        from lib.litellm.client import LiteLLMError, LiteLLMRefused
        from lib.usage.ingest import IngestError

        print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, IngestError):
            print(json.dumps(exc.summary.as_dict()))
        if hasattr(exc, "as_dict") and not isinstance(exc, IngestError):  # a refused provider change: what happened
            print(json.dumps(exc.as_dict()))
        refused = isinstance(exc, LiteLLMRefused)  # LiteLLM said no to a change: a refusal, like bad input
        return 1 if isinstance(exc, (LiteLLMError, IngestError)) and not refused else 2
    except (ValueError, PermissionError) as exc:  # a bad value no domain check caught; a file the system refuses
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if rt is not None:
            rt.close()


if __name__ == "__main__":
    sys.exit(main())
