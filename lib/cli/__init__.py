"""Command line: `python -m lib.cli COMMAND ...` for analysts' cron jobs and scripting.

Works while the app is running (the usage store is multi-process safe). Every command prints JSON (or
the export) on stdout; bad arguments exit non-zero with one clear line on stderr.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from datetime import date, timedelta
from pathlib import Path

from lib.core.clock import utcnow
from lib.core.settings import SettingsError, load_settings

EARLIEST_DATE = date(2020, 1, 1)      # before any LiteLLM proxy: a typo, not history to fetch or export


class CliError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """Bad arguments get one line on stderr ("error: ...") and exit 2: cron mails and scripts read one line."""

    def error(self, message: str):
        self.exit(2, f"error: {message}\n")

    def parse_known_args(self, args=None, namespace=None):
        for arg in sys.argv[1:] if args is None else args:
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:     # bytes the shell passed that are not UTF-8 (kept as surrogates)
                self.error(f"an argument is not valid UTF-8: {os.fsencode(arg)!r}")
        return super().parse_known_args(args, namespace)


def _date(text: str) -> date:
    """A UTC day from EARLIEST_DATE to tomorrow (a user ahead of UTC may already be in it)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
    latest = utcnow().date() + timedelta(days=1)
    if not EARLIEST_DATE <= day <= latest:
        raise argparse.ArgumentTypeError(f"{day} is outside the dates this console keeps ({EARLIEST_DATE} to "
                                         f"{latest}, UTC)")
    return day


def text_arg(max_chars: int):
    """An argparse type: a string that is not blank and at most `max_chars` long."""
    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError("must not be empty")
        if len(text) > max_chars:
            raise argparse.ArgumentTypeError(f"must be at most {max_chars} characters")
        return text
    return parse


def seconds_arg(low: float, high: float, low_included: bool = True):
    """An argparse type: a number of seconds in [low, high] (or (low, high]), never NaN or infinite."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and (value >= low if low_included else value > low) and value <= high):
            bound = "from" if low_included else "above"
            raise argparse.ArgumentTypeError(f"must be a number of seconds {bound} {low:g} to {high:g}: {text!r}")
        return value
    return parse


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


def _writer_store(settings):
    """A write-only store (the app's process serves), cleaned of what interrupted runs left (a CLI start)."""
    from lib.appdb import get_engine
    from lib.services import recover_interrupted_work
    from lib.usage.store import UsageStore
    store = UsageStore.writer(settings.store_dir)
    recover_interrupted_work(get_engine(settings.DATABASE_URL), store)
    return store


def cmd_backfill(args, settings) -> int:
    from lib.services import run_backfill
    start, end = _range(args)
    summary = run_backfill(settings, "cli", start=start, end=end, force=args.force, store=_writer_store(settings))
    print(json.dumps(summary.as_dict()))
    return 0


def cmd_refresh_today(args, settings) -> int:
    from lib.services import run_refresh_today
    summary = run_refresh_today(settings, "cli", wait=True, store=_writer_store(settings))
    print(json.dumps(summary.as_dict()))
    return 0


def cmd_export(args, settings) -> int:
    from lib.usage.exports import render_export
    from lib.usage.queries import Filters, QueryError, resolve_api_keys
    from lib.usage.store import UsageStore
    start, end = _range(args)
    store = UsageStore(settings.store_dir, window=(start, end))   # reads only the local store
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
        except OSError as exc:      # checked when parsed, but the disk may be full or the folder gone since
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
    value = text_arg(1000)
    e.add_argument("--model", action="append", type=value, help="underlying model, e.g. openai/gpt-4o (repeatable)")
    e.add_argument("--provider", action="append", type=value)
    e.add_argument("--user", action="append", type=value, help="LiteLLM user id")
    e.add_argument("--api-key", action="append", type=value, metavar="HASH_OR_ALIAS")
    e.add_argument("--team", action="append", type=value)
    e.add_argument("--output", type=_output_path, help="write here instead of stdout")
    e.set_defaults(func=cmd_export)

    from lib.cli.catalog import add_commands as add_model_commands
    from lib.cli.users import add_user_commands
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
        from lib.usage.ingest import IngestError
        from lib.litellm.client import LiteLLMError
        if isinstance(exc, (LiteLLMError, IngestError)):
            print(f"error: {exc}", file=sys.stderr)
            if isinstance(exc, IngestError):
                print(json.dumps(exc.summary.as_dict()))
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
