"""Full-page screenshots of the console in demo mode, light and dark, at a desktop and a phone width, to look at.

    .venv/bin/python -m tests.support.screenshots [--out DIR] [--days 90]

Starts `streamlit run app.py` in demo mode with `--days` of demo usage stored, logs in as admin with
Chromium (the browser preferring a light, then a dark colour scheme) and saves `usage-{width}-{scheme}.png`,
`models-…`, `users-…`, `keys-…` and `providers-{width}-{scheme}.png`. Layout is judged by a person (no overlapping, cut
or unreadable labels); this is not a test (tests/test_e2e_layout.py checks what a test can).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.support.streamlit_server import CHROMIUM, LAUNCH_ARGS, StreamlitServer, _days_ago

WIDTHS = (1400, 390)  # a desktop; a phone (iPhone 12-15: 390 x 844)
SCHEMES = ("light", "dark")  # the browser's prefers-color-scheme, which the app follows
PAGES = ("usage", "models", "users", "keys", "providers")


def shoot(url: str, out: Path, log=print) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from tests.support.browser import login, wait_for_cookie, wait_idle

    saved = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        for scheme, width in [(scheme, width) for scheme in SCHEMES for width in WIDTHS]:
            page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
            try:
                login(page, url, "admin", "admin")  # typed again if a rerun loses it
                page.get_by_test_id("stSidebar").get_by_role("button", name="Log out").wait_for(timeout=120_000)
                wait_for_cookie(page)  # the pages below are opened by URL: logged in by the cookie
            except Exception:
                page.screenshot(path=str(out / "login-failed.png"))
                raise
            for name in PAGES:
                page.goto(f"{url}/{name}")
                page.wait_for_timeout(1500)
                wait_idle(page, timeout_ms=300_000)
                page.wait_for_timeout(1000)  # plotly finishes its layout after the run
                # The page scrolls inside Streamlit's main section, not the document: grow the viewport to it,
                # again while it still grows (charts drawn late, widths reflowing in the taller window).
                shown = 900
                for _ in range(4):
                    height = page.evaluate(
                        "Math.max(...[...document.querySelectorAll('section, div')].map(e => e.scrollHeight))"
                    )
                    if int(height) + 50 <= shown:
                        break
                    shown = min(int(height) + 50, 16_000)
                    page.set_viewport_size({"width": width, "height": shown})
                    page.wait_for_timeout(1500)
                path = out / f"{name}-{width}-{scheme}.png"
                page.screenshot(path=str(path), full_page=True)
                page.set_viewport_size({"width": width, "height": 900})
                saved.append(path)
                log(f"saved {path}")
            page.close()
        browser.close()
    return saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("data/screenshots"))
    ap.add_argument("--days", type=int, default=90, help="days of demo usage in the store")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = StreamlitServer(Path(tmp), backfill_days=a.days)
        filled = server.cli("backfill", "--start", _days_ago(a.days - 1), "--end", _days_ago(0))
        if filled.returncode != 0:
            raise SystemExit(f"backfill failed: {filled.stderr}")
        server.start()
        try:
            shoot(server.url, a.out)
        except Exception:
            server.stop()
            print(server.log_text()[-4000:])
            raise
        finally:
            server.stop()


if __name__ == "__main__":
    main()
