"""tests/bench/keys_page.py (the keys page benchmark) runs end to end on a few keys: every page run showed every
live key, and a page load with the kept snapshot read nothing from LiteLLM. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_small_run_checks_its_pages_and_ends_with_json():
    proc = subprocess.run(
        [sys.executable, "-m", "tests.bench.keys_page", "--keys", "250", "--latency-ms", "2", "--repeat", "1"]
        + ["--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]  # 1: a page run showed wrong keys
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["keys"] == 250 and out["pages"] == 4 and out["problems"] == []  # 3 live pages + the archive's
    for name in ("fetch_sequential_s", "fetch_concurrent_s", "page_kept_s", "page_reload_s"):
        assert isinstance(out[name], float) and out[name] > 0, (name, out)
    assert "keys page (AppTest run" in proc.stdout
