"""The Request logs page with a million spend-log rows in LiteLLM, against a baseline of a thousand, in one run.

    .venv/bin/python -m tests.bench.logs_page [--rows 1000000] [--baseline 1000] [--repeat 5] [--json]

Both tables are served by the lazy fake of tests/bench/logs_fake.py over loopback HTTP: the million's rows spread
over the last 7 days, the baseline's over the last hour (so every window of both reads a full sample of 1,000
LiteLLM-sized rows, and the difference is the table's size alone). For each, the page (pages/logs.py under
Streamlit's AppTest, logged in as an admin) is run with its default window (the last hour) and with the last 7
days, its cache emptied before each run: the time of a run, the LiteLLM calls it made and the rows and bytes they
brought. The ratio of the million's times to the baseline's is the figure: server-side paging keeps it near 1 (a
page load reads at most one sample of 1,000 rows and one page, whatever the table holds). A measurement, not a
test: tests/test_logs_scale.py checks the calls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.bench.logs_fake import SPAN, LazySpendLogs, serve

PAGE = "pages/logs.py"
PRESETS = ("Last hour", "Last 7 days")
PASSWORD = "bench-password-1"
BASELINE_SPAN = timedelta(hours=1)  # the baseline's rows all in the last hour: both windows hold all of them


def page_loads(rows: int, repeat: int, tmp: Path, page: int = 1, span: timedelta = SPAN) -> dict:
    """{preset: {"seconds": [...], "calls": n, "rows": n, "bytes": n, "total_text": caption, ...}} for a table of
    `rows` spread over the `span` before now."""
    from lib.auth import accounts
    from lib.ui.logs import ANCHOR, cached_empty_reason, cached_view
    from lib.ui.logs import PAGE as PAGE_KEY
    from tests.support.apptest import app_as, app_runtime, demo_settings

    fake = LazySpendLogs(rows, datetime.now(timezone.utc), span)
    out = {}
    with serve(fake) as url:
        folder = tmp / f"rows-{rows}"
        folder.mkdir(parents=True, exist_ok=True)
        settings = demo_settings(folder, LITELLM_BASE_URL=url, LITELLM_API_KEY="sk-bench", APP_SECRET_KEY="b" * 48)
        engine = app_runtime(settings).engine
        if accounts.get_user(engine, "root") is None:
            accounts.create_user(engine, None, "root", PASSWORD, "admin")
        at = app_as(settings, "root", PAGE)
        for preset in PRESETS:
            at.button_group(key="logs_window").set_value(preset).run()
            seconds = []
            for _ in range(repeat):
                cached_view.clear()  # an empty cache: every run asks LiteLLM, as a first visit does
                cached_empty_reason.clear()
                at.session_state[ANCHOR] = fake.end
                if page > 1:
                    at.session_state[PAGE_KEY] = page
                fake.calls.clear()
                t0 = time.perf_counter()
                at.run()
                seconds.append(time.perf_counter() - t0)
                assert not at.exception, at.exception
                errors = [e.value for e in at.error]
                assert not errors, errors
            captions = [c.value.replace("\\", "") for c in at.caption]
            out[preset] = {
                "seconds": seconds,
                "calls": len(fake.calls),
                "rows": sum(c.rows for c in fake.calls),
                "bytes": sum(c.bytes for c in fake.calls),
                "pages_asked": [int(c.params.get("page", 1)) for c in fake.calls],
                "total_text": next((c for c in captions if " UTC · " in c), ""),
                "table_rows": len(at.dataframe[0].value) if at.dataframe else 0,
            }
    return out


def compare(rows: int, baseline: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        base = page_loads(baseline, repeat, Path(tmp), span=BASELINE_SPAN)
        big = page_loads(rows, repeat, Path(tmp))
    result = {"rows": rows, "baseline_rows": baseline, "repeat": repeat}
    for preset in PRESETS:
        b, m = statistics.median(base[preset]["seconds"]), statistics.median(big[preset]["seconds"])
        result[preset] = {
            "baseline_ms": round(b * 1000, 1),
            "million_ms": round(m * 1000, 1),
            "ratio": round(m / b, 2),
            "calls": (base[preset]["calls"], big[preset]["calls"]),
            "rows_fetched": (base[preset]["rows"], big[preset]["rows"]),
            "mb_fetched": (round(base[preset]["bytes"] / 1e6, 2), round(big[preset]["bytes"] / 1e6, 2)),
            "shown": (base[preset]["total_text"], big[preset]["total_text"]),
        }
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.logs_page", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--baseline", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    a = ap.parse_args(argv)
    result = compare(a.rows, a.baseline, a.repeat)
    for preset in PRESETS:
        r = result[preset]
        print(
            f"{preset:12s} baseline ({a.baseline:,} rows) {r['baseline_ms']:8.1f} ms · {a.rows:,} rows "
            f"{r['million_ms']:8.1f} ms · ratio {r['ratio']:.2f} · calls {r['calls']} · rows fetched "
            f"{r['rows_fetched']} · MB {r['mb_fetched']}",
            flush=True,
        )
    if a.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
