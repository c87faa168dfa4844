"""Every key LiteLLM has, read once and kept by the process.

`/key/list` gives at most 100 keys a page, so 5,000 keys are 50 requests: the live keys' pages and the deleted
keys' archive are read several at a time (`fetch_keys`), and the result is kept (`KeySnapshots`, held by the
process's Runtime) so a page load never downloads them again. It is read again on "Reload from LiteLLM", when
older than KEYS_CACHE_MINUTES, and each change made through the console patches its one row (re-read from
LiteLLM) instead.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pandas as pd

from lib.core.clock import utcnow
from lib.core.kept import Kept
from lib.keys.records import COLUMNS, key_row, keys_frame, typed
from lib.litellm.client import LiteLLMClient
from lib.litellm.keys_api import MAX_PAGE_SIZE, LiteLLMKey, list_keys_page

CONCURRENCY = 4  # pages read at once: LiteLLM answers each from its database
LISTINGS = (None, "deleted")  # live keys (active, expired, blocked), then the archive of deleted ones


@dataclass(frozen=True)
class KeySnapshot:
    keys: pd.DataFrame  # lib.keys.records.COLUMNS, one row per key
    fetched_at: datetime
    seconds: float  # how long reading it took
    requests: int  # pages read

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or utcnow()) - self.fetched_at


def fetch_keys(
    client: LiteLLMClient,
    concurrency: int = CONCURRENCY,
    page_size: int = MAX_PAGE_SIZE,
    listings: tuple[str | None, ...] = LISTINGS,
    **filters,
) -> tuple[list[LiteLLMKey], int]:
    """Every key of the listings (`filters`: /key/list's user_id, ...) and the number of pages read. The first
    page of each listing says how many pages there are; the rest are read `concurrency` at a time."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="key-pages") as pool:
        first = {s: pool.submit(list_keys_page, client, 1, page_size, status=s, **filters) for s in listings}
        pages = {s: [f.result()] for s, f in first.items()}
        rest = {
            s: [
                pool.submit(list_keys_page, client, p, page_size, status=s, **filters)
                for p in range(2, pages[s][0].total_pages + 1)
            ]
            for s in listings
        }
        for s, futures in rest.items():
            pages[s] += [f.result() for f in futures]
    keys = [k for s in listings for page in pages[s] for k in page.keys]
    return keys, sum(len(p) for p in pages.values())


def load_snapshot(client: LiteLLMClient, concurrency: int = CONCURRENCY) -> KeySnapshot:
    t0 = time.perf_counter()
    keys, requests = fetch_keys(client, concurrency)
    now = utcnow()
    return KeySnapshot(keys_frame(keys, now), now, time.perf_counter() - t0, requests)


class KeySnapshots(Kept[KeySnapshot]):
    """The process's snapshot of LiteLLM's keys (one per Runtime; lib.core.kept)."""

    def __init__(self, max_age: timedelta, concurrency: int = CONCURRENCY):
        super().__init__(max_age)
        self.concurrency = concurrency

    def read(self, client: LiteLLMClient) -> KeySnapshot:
        return load_snapshot(client, self.concurrency)

    def patch(self, key: LiteLLMKey) -> None:
        """Put one key as LiteLLM now has it (re-read after a change) into the kept snapshot."""
        with self._lock:
            if self._current is None:
                return
            now = utcnow()
            df = self._current.keys
            row = pd.DataFrame([key_row(key, now)], columns=COLUMNS)
            at = df.index[df["token"] == key.token]
            if len(at):  # in its place: the snapshot's order stays
                parts = [df.iloc[: at[0]], row, df.iloc[at[0] + 1 :]]
            else:
                parts = [df, row]
            df = typed(pd.concat([p for p in parts if len(p)], ignore_index=True))
            self._current = replace(self._current, keys=df)
