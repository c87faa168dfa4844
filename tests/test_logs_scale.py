"""Scale: with a million spend-log rows in LiteLLM the Request logs page stays a bounded read — one sample of at
most 1,000 rows per load, plus one page when a page past the sample is asked for — the same calls as with a
thousand rows. Timing is measured and printed (the ratio to the baseline), never asserted: the benchmark is
`python -m tests.bench.logs_page` (README, Benchmark)."""

from __future__ import annotations

import re
import statistics

from tests.bench.logs_page import BASELINE_SPAN, PRESETS, page_loads

MILLION = 1_000_000


def test_a_million_rows_cost_a_page_load_what_a_thousand_do(tmp_path, capsys):
    base = page_loads(1_000, repeat=1, tmp=tmp_path, span=BASELINE_SPAN)
    big = page_loads(MILLION, repeat=1, tmp=tmp_path)
    for preset in PRESETS:
        for loads in (base, big):
            assert loads[preset]["calls"] == 1, (preset, loads[preset])  # the newest 1,000: charts and page 1
            assert loads[preset]["rows"] == 1_000 and loads[preset]["table_rows"] == 50
        ratio = statistics.median(big[preset]["seconds"]) / statistics.median(base[preset]["seconds"])
        with capsys.disabled():
            print(f"\n{preset}: page load with {MILLION:,} rows / with 1,000 rows = {ratio:.2f} (not asserted)")
    assert "more than 10,000 requests" in big["Last 7 days"]["total_text"]
    in_last_hour = int(re.search(r"· ([\d,]+) requests", big["Last hour"]["total_text"])[1].replace(",", ""))
    assert abs(in_last_hour - MILLION / (7 * 24)) <= 2  # every request of the last hour counted, no more
    assert all("· 1,000 requests" in base[p]["total_text"] for p in PRESETS)


def test_a_deep_page_of_a_million_rows_is_one_page_from_litellm(tmp_path):
    deep = page_loads(MILLION, repeat=1, tmp=tmp_path, page=2_000)["Last 7 days"]
    assert deep["pages_asked"] == [1, 2_000]  # the sample, then LiteLLM's page 2,000 (server-side offset)
    assert deep["rows"] == 1_000 + 50 and deep["table_rows"] == 50
