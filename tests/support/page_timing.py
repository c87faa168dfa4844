"""How long the Usage page takes to show new numbers after a filter or range change, in a real browser.

    .venv/bin/python -m tests.support.page_timing [--rows 10000000 | --store DIR] [--changes 8]

Builds a store of `--rows` stored rows with the benchmark's generator (or uses an existing store folder),
starts `streamlit run app.py` on it (demo login, no background jobs), logs in with Chromium, and times each
change from the click until the KPI cards show the new values and until the page has finished its rerun
(charts, tables and export buttons drawn). Prints medians; a measurement, not a test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from tests.support.streamlit_server import CHROMIUM, StreamlitServer

LAUNCH_ARGS = ["--no-sandbox", "--disable-background-networking", "--headless"]


def _requests_text(page) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text="Requests").first
    return metric.get_by_test_id("stMetricValue").inner_text()


def _settled(page, timeout_s: float = 120) -> None:
    """Wait until Streamlit has no script run in progress (its status widget is gone)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.get_by_test_id("stStatusWidget").count() == 0:
            return
        page.wait_for_timeout(20)
    raise TimeoutError("the page kept running")


def _time_change(page, prepare, trigger) -> tuple[float, float]:
    """From `trigger` (the keystroke or click that changes the view) to new KPIs, and to a settled page."""
    prepare()
    before = _requests_text(page)
    t0 = time.perf_counter()
    trigger()
    while _requests_text(page) == before:
        if time.perf_counter() - t0 > 60:
            page.screenshot(path="/tmp/page_timing_failure.png")
            raise TimeoutError(f"the KPIs never changed (still {before}; url {page.url})")
        page.wait_for_timeout(10)
    kpis = time.perf_counter() - t0
    _settled(page)
    return kpis, time.perf_counter() - t0


def measure(url: str, changes: int, log=print) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/usage")
        page.get_by_role("textbox", name="Username").fill("admin")
        page.get_by_role("textbox", name="Password").fill("admin")
        page.get_by_role("button", name="Log in").click()
        t0 = time.perf_counter()
        page.get_by_test_id("stMetric").first.wait_for(timeout=300_000)
        page.wait_for_timeout(500)
        _settled(page, 300)
        log(f"first view after login (includes loading the store into memory): {time.perf_counter() - t0:.1f}s")
        expander = page.get_by_test_id("stExpander").filter(has_text="Filters").locator("summary")
        box = page.get_by_test_id("stMultiSelect").filter(has_text="Providers").locator("input")

        def open_box():
            if not box.is_visible():
                expander.click()
            box.click()
            if "provider=" not in page.url:
                box.fill("anthropic")

        def toggle_provider():  # add the typed provider, or remove it again (Backspace, empty input)
            box.press("Backspace" if "provider=" in page.url else "Enter")

        ranges = ["90d", "30d", "All time", "7d"]
        out: dict[str, list] = {"filter": [], "range": []}
        for i in range(changes):
            out["filter"].append(_time_change(page, open_box, toggle_provider))
            box.press("Escape")
            radio = page.get_by_role("radio", name=ranges[i % len(ranges)])
            out["range"].append(_time_change(page, radio.wait_for, radio.click))
        browser.close()
    return {
        kind: {
            "kpis_s": statistics.median(k for k, _ in v),
            "settled_s": statistics.median(s for _, s in v),
            "n": len(v),
        }
        for kind, v in out.items()
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.support.page_timing", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--store", type=Path, help="an existing store folder (skips generating one)")
    ap.add_argument("--changes", type=int, default=8)
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="page-timing-"))
    try:
        store = a.store
        if store is None:
            from tests.bench.data import build_dataset, make_world

            store = tmp / "usage"
            ds = build_dataset(
                make_world(7), a.rows, 730, datetime.now(timezone.utc).date(), 7, store, with_frame=False, log=print
            )
            ds.store.close()
            print(f"store: {ds.rows:,} stored rows")
        server = StreamlitServer(tmp, store_path=store.with_suffix(".duckdb"))
        server.env["BACKGROUND_SERVICES"] = "false"  # keep the generated history as it is
        server.start()
        try:
            res = measure(server.url, a.changes)
        finally:
            server.stop()
        for kind, r in res.items():
            print(
                f"{kind} change: new KPIs after {r['kpis_s'] * 1000:.0f} ms, page settled after "
                f"{r['settled_s'] * 1000:.0f} ms (medians of {r['n']})"
            )
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
