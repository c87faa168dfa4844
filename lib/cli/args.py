"""What every command's arguments share: the parser (one error line, exit 2) and the argument types."""

from __future__ import annotations

import argparse
import math
import os
import sys


class Parser(argparse.ArgumentParser):
    """Bad arguments get one line on stderr ("error: ...") and exit 2: cron mails and scripts read one line."""

    def error(self, message: str):
        self.exit(2, f"error: {message}\n")

    def parse_known_args(self, args=None, namespace=None):
        for arg in sys.argv[1:] if args is None else args:
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:  # bytes the shell passed that are not UTF-8 (kept as surrogates)
                self.error(f"an argument is not valid UTF-8: {os.fsencode(arg)!r}")
        return super().parse_known_args(args, namespace)


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
