"""Benchmark: the Usage page in a real browser: the first view after a login, and a filter or range change.

    .venv/bin/python -m tests.bench.page_timing [--store DIR | --rows 10000000] [--logins 5] [--changes 8]
                                                [--baseline REF] [--json]

Builds a store of `--rows` stored rows with the benchmark's generator (or uses an existing store folder), starts
`streamlit run app.py` on it (demo login, no background jobs) and drives Chromium:

- **first view after login**, `--logins` times, each in a new browser context (a first visit: nothing cached): the
  login form is filled once the login page has loaded (as a person types into it), and the time runs from the
  click on "Log in" until the KPI cards show, and until the page is ready: every chart drawn and no script run
  in flight. The first login after the server started is reported on its own (it may wait for the stored usage
  to load into memory);
- **filter and range changes**, `--changes` of each: from the keystroke or click to the new KPIs, and to the page
  settled (charts, tables and export buttons drawn).

`--baseline REF` measures a checkout of the git ref REF (e.g. `HEAD~3`) in the same run, its logins and changes
alternating with this checkout's, and reports ratios (the machines are shared and noisy: only one run's figures
compare).
Prints medians; a measurement, not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from tests.support.streamlit_server import CHROMIUM, LAUNCH_ARGS, ROOT, StreamlitServer

VIEWPORT = {"width": 1400, "height": 1000}


def _requests_text(page) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text="Requests").first
    return metric.get_by_test_id("stMetricValue").inner_text()


def _settled(page, timeout_s: float = 120) -> None:
    """Until no script run is in flight (polled every 20 ms; Streamlit's own flag on the app's root)."""
    state = page.locator("[data-test-script-state]")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if state.get_attribute("data-test-script-state") == "notRunning":
            return
        page.wait_for_timeout(20)
    raise TimeoutError("the page kept running")


def _ready(page, timeout_s: float = 300) -> None:
    """Until every chart on the page is drawn and no script run is in flight."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        charts = page.get_by_test_id("stPlotlyChart").count()
        if charts and page.locator(".js-plotly-plot").count() >= charts:
            _settled(page, deadline - time.monotonic())
            if page.locator(".js-plotly-plot").count() >= page.get_by_test_id("stPlotlyChart").count():
                return
        page.wait_for_timeout(20)
    raise TimeoutError("the charts were never all drawn")


def _login_page_loaded(page) -> None:
    """The login page as a person types into it: drawn, its run over, its scripts loaded (the network quiet: the
    login page loads the charts' and tables' JavaScript, about 1.5 s here, less than typing a password takes)."""
    page.get_by_role("button", name="Log in").wait_for(timeout=120_000)
    _settled(page)
    page.wait_for_load_state("networkidle")


def time_login(browser, url: str) -> tuple[float, float]:
    """One login in a new browser context: (seconds to the KPI cards, seconds to the page ready)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(f"{url}/usage")
        _login_page_loaded(page)
        page.get_by_role("textbox", name="Username").fill("admin")
        page.get_by_role("textbox", name="Password").fill("admin")
        t0 = time.perf_counter()
        page.get_by_role("button", name="Log in").click()
        page.get_by_test_id("stMetric").first.wait_for(timeout=300_000)
        kpis = time.perf_counter() - t0
        _ready(page)
        return kpis, time.perf_counter() - t0
    finally:
        context.close()


def _time_change(page, prepare, trigger) -> tuple[float, float]:
    """From `trigger` (the keystroke or click that changes the view) to new KPIs, and to a settled page."""
    prepare()
    before = _requests_text(page)
    t0 = time.perf_counter()
    trigger()
    while _requests_text(page) == before:
        if time.perf_counter() - t0 > 60:
            raise TimeoutError(f"the KPIs never changed (still {before}; url {page.url})")
        page.wait_for_timeout(10)
    kpis = time.perf_counter() - t0
    _settled(page)
    return kpis, time.perf_counter() - t0


class UsageView:
    """A logged-in Usage page whose view is changed by typing a provider filter and clicking range presets."""

    RANGES = ["90d", "30d", "All time", "7d"]

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = page = self.context.new_page()
        page.goto(f"{url}/usage")
        _login_page_loaded(page)
        page.get_by_role("textbox", name="Username").fill("admin")
        page.get_by_role("textbox", name="Password").fill("admin")
        page.get_by_role("button", name="Log in").click()
        _ready(page)
        self.expander = page.get_by_test_id("stExpander").filter(has_text="Filters").locator("summary")
        self.box = page.get_by_test_id("stMultiSelect").filter(has_text="Providers").locator("input")

    def _open_box(self) -> None:
        if not self.box.is_visible():
            self.expander.click()
        self.box.click()
        if "provider=" not in self.page.url:
            self.box.fill("anthropic")

    def _toggle_provider(self) -> None:  # add the typed provider, or remove it again (Backspace, empty input)
        self.box.press("Backspace" if "provider=" in self.page.url else "Enter")

    def change_filter(self) -> tuple[float, float]:
        timed = _time_change(self.page, self._open_box, self._toggle_provider)
        self.box.press("Escape")
        return timed

    def change_range(self, i: int) -> tuple[float, float]:
        radio = self.page.get_by_role("radio", name=self.RANGES[i % len(self.RANGES)])
        return _time_change(self.page, radio.wait_for, radio.click)

    def close(self) -> None:
        self.context.close()


def _medians(pairs: list[tuple[float, float]]) -> dict:
    return {
        "kpis_s": round(statistics.median(k for k, _ in pairs), 3),
        "ready_s": round(statistics.median(r for _, r in pairs), 3),
        "n": len(pairs),
    }


def measure(urls: dict[str, str], logins: int, changes: int, log=print) -> dict:
    """`urls`: checkout name -> its server. Logins and changes alternate between the servers."""
    from playwright.sync_api import sync_playwright

    times: dict[str, list] = {name: [] for name in urls}
    result: dict[str, dict] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        for i in range(logins):
            for name, url in urls.items():
                kpis, ready = time_login(browser, url)
                times[name].append((kpis, ready))
                log(f"{name}: login {i + 1}: KPIs after {kpis:.2f} s, ready after {ready:.2f} s")
        for name in urls:
            result[name] = {
                "first_login": {"kpis_s": round(times[name][0][0], 3), "ready_s": round(times[name][0][1], 3)},
                "login": _medians(times[name][1:] or times[name]),
            }
        if changes:
            views = {name: UsageView(browser, url) for name, url in urls.items()}
            timed: dict[str, dict[str, list]] = {name: {"filter": [], "range": []} for name in urls}
            for i in range(changes):  # alternating between the checkouts, as the logins
                for name, view in views.items():
                    timed[name]["filter"].append(view.change_filter())
                    timed[name]["range"].append(view.change_range(i))
            for name, view in views.items():
                view.close()
                result[name] |= {kind: _medians(v) for kind, v in timed[name].items()}
        browser.close()
    return result


def _checkout(ref: str, into: Path) -> Path:
    subprocess.run(["git", "worktree", "add", "--detach", str(into), ref], cwd=ROOT, check=True, capture_output=True)
    return into


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.page_timing", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--store", type=Path, help="an existing store folder (skips generating one)")
    ap.add_argument("--logins", type=int, default=5)
    ap.add_argument("--changes", type=int, default=8)
    ap.add_argument("--baseline", metavar="REF", help="also measure this git ref's checkout, in the same run")
    ap.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="page-timing-"))
    servers: dict[str, StreamlitServer] = {}
    baseline_root = None
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
        roots = {"current": ROOT}
        if a.baseline:
            baseline_root = roots[f"baseline {a.baseline}"] = _checkout(a.baseline, tmp / "baseline")
        for name, root in roots.items():
            (tmp / name).mkdir()
            server = StreamlitServer(tmp / name, store_path=store.with_suffix(".duckdb"), root=root)
            server.env["BACKGROUND_SERVICES"] = "false"  # keep the generated history as it is
            servers[name] = server.start()
        res = measure({name: s.url for name, s in servers.items()}, a.logins, a.changes)
        for name, r in res.items():
            first, later = r["first_login"], r["login"]
            print(
                f"{name}: first login after the start: KPIs after {first['kpis_s']:.2f} s, ready after "
                f"{first['ready_s']:.2f} s; later logins: KPIs after {later['kpis_s']:.2f} s, ready after "
                f"{later['ready_s']:.2f} s (medians of {later['n']})"
            )
            for kind in ("filter", "range"):
                if kind in r:
                    print(
                        f"{name}: {kind} change: new KPIs after {r[kind]['kpis_s'] * 1000:.0f} ms, page settled "
                        f"after {r[kind]['ready_s'] * 1000:.0f} ms (medians of {r[kind]['n']})"
                    )
        if a.baseline:
            cur, base = res["current"], res[f"baseline {a.baseline}"]
            res["ratios"] = {
                "login_ready": round(base["login"]["ready_s"] / cur["login"]["ready_s"], 2),
                "first_login_ready": round(base["first_login"]["ready_s"] / cur["first_login"]["ready_s"], 2),
            }
            print(
                f"baseline / current: later logins {res['ratios']['login_ready']}x, "
                f"first login {res['ratios']['first_login_ready']}x (page ready)"
            )
        if a.json:
            print(json.dumps(res))
        return 0
    finally:
        for server in servers.values():
            server.stop()
        if baseline_root is not None:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline_root)], cwd=ROOT, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
