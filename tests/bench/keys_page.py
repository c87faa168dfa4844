"""Benchmark: the Virtual keys page with 5,000 keys in LiteLLM, against a download of every key per page load.

    python -m tests.bench.keys_page [--keys 5000] [--latency-ms 250] [--workers 1] [--repeat 3] [--json]

Demo mode's fake LiteLLM is given `--keys` live keys (demo mode's own keys, with their usage in a 30-day store,
and more without usage), and its `/key/list` answers each page after `--latency-ms`, `--workers` pages at a
time: a proxy's database time per page of 100 full key objects (the LiteLLM harness's proxy, one worker, took
about 250 ms a page here). In one run, medians of `--repeat`:

- reading every key: pages one after another, and 4 at a time (what "Reload from LiteLLM" does);
- the page as an admin sees it (AppTest runs of pages/keys.py: the table of every live key joined with its
  usage, filters, sort): with the kept snapshot (an ordinary page load), after a reload (the snapshot read again,
  4 pages at a time), and the baseline of a page that downloads every key on each load, one page at a time.

Ratios are against the kept-snapshot page load, measured in the same run. Each page run is checked: its table
must hold every live key (exit status 1 otherwise). A measurement, not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx


class SlowKeyList:
    """The fake's /key/* in front of a proxy that needs `latency_s` per /key/list page, `workers` at a time."""

    def __init__(self, keys, latency_s: float, workers: int):
        self.keys = keys
        self.latency_s = latency_s
        self.slots = threading.Semaphore(max(1, workers))
        self.pages = 0
        self._lock = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.rstrip("/") == "/key/list":
            with self.slots:
                time.sleep(self.latency_s)
                with self._lock:
                    self.pages += 1
        return self.keys.handle(request)


def _median_run(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.keys_page", description=__doc__.split("\n\n")[0])
    ap.add_argument("--keys", type=int, default=5000, help="live keys in the fake LiteLLM")
    ap.add_argument("--latency-ms", type=float, default=250.0, help="the proxy's time per /key/list page")
    ap.add_argument("--workers", type=int, default=1, help="/key/list pages the proxy answers at once")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    a = ap.parse_args(argv)
    logging.getLogger("streamlit").setLevel(logging.ERROR)

    from streamlit.runtime.pages_manager import PagesManager

    from lib.auth import accounts
    from lib.keys.snapshot import CONCURRENCY, fetch_keys
    from lib.litellm.demo_keys import DemoKeys
    from lib.services import run_backfill
    from tests.support.apptest import app_as, app_runtime, demo_settings

    original_init = PagesManager.__init__

    def init(self, *args, **kwargs):  # AppTest runs as on a warm server (tests/support/streamlit_server.py)
        original_init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init

    tmp = Path(tempfile.mkdtemp(prefix="keys-bench-"))
    try:
        settings = demo_settings(tmp, BACKFILL_DAYS="30")
        rt = app_runtime(settings)
        run_backfill(rt, "bench")
        accounts.bootstrap_accounts(rt.engine, settings)
        demo = rt.demo_litellm()
        own = len(DemoKeys(demo)._live)
        slow = SlowKeyList(DemoKeys(demo, extra_keys=max(0, a.keys - own)), a.latency_ms / 1000, a.workers)
        demo.key_api = slow
        live = len(slow.keys._live)
        print(
            f"{live:,} live keys ({own} with demo usage), {len(slow.keys._deleted)} deleted; "
            f"{a.latency_ms:g} ms per /key/list page, {a.workers} page(s) at a time",
            flush=True,
        )

        def fetch(concurrency: int):
            with rt.litellm_client() as client:
                return fetch_keys(client, concurrency=concurrency)

        sequential_s, (keys, pages) = _median_run(lambda: fetch(1), a.repeat)
        concurrent_s, _ = _median_run(lambda: fetch(CONCURRENCY), a.repeat)
        assert len(keys) == live + len(slow.keys._deleted), "a key was missed or read twice"

        at = app_as(settings, "admin", "pages/keys.py")  # the first load reads the snapshot
        problems: list[str] = []

        def page_run(forget: bool, concurrency: int = CONCURRENCY) -> None:
            rt.key_snapshots.concurrency = concurrency
            if forget:
                rt.key_snapshots.forget()
            before = slow.pages
            at.run()
            if at.exception:
                problems.append(str(at.exception))
            rows = len(next(d.value for d in at.dataframe if "trend" in d.value.columns))
            if rows != live:
                problems.append(f"the table shows {rows} keys, not {live}")
            if not forget and slow.pages != before:
                problems.append("a page load with the kept snapshot read keys from LiteLLM")

        kept_s, _ = _median_run(lambda: page_run(False), a.repeat)
        reload_s, _ = _median_run(lambda: page_run(True), a.repeat)
        download_s, _ = _median_run(lambda: page_run(True, 1), a.repeat)
        out = {
            "keys": live,
            "pages": pages,
            "latency_ms": a.latency_ms,
            "workers": a.workers,
            "fetch_sequential_s": round(sequential_s, 3),
            "fetch_concurrent_s": round(concurrent_s, 3),
            "fetch_speedup": round(sequential_s / concurrent_s, 2),
            "page_kept_s": round(kept_s, 3),
            "page_reload_s": round(reload_s, 3),
            "page_download_each_load_s": round(download_s, 3),
            "download_vs_kept": round(download_s / kept_s, 1),
            "reload_vs_kept": round(reload_s / kept_s, 1),
            "problems": problems,
        }
        print(
            f"reading every key ({pages} pages): {sequential_s:.2f} s one page at a time, {concurrent_s:.2f} s "
            f"{CONCURRENCY} at a time ({out['fetch_speedup']}x)"
        )
        print(
            f"keys page (AppTest run, medians of {a.repeat}): {kept_s:.2f} s with the kept snapshot; "
            f"{reload_s:.2f} s after Reload from LiteLLM ({out['reload_vs_kept']}x); "
            f"{download_s:.2f} s downloading every key on each load ({out['download_vs_kept']}x)"
        )
        for p in problems:
            print(f"PROBLEM: {p}")
        if a.json:
            print(json.dumps(out))
        return 1 if problems else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
