"""LiteLLM answers mangled at random (fields dropped, unknown fields added, values of another JSON type, nested
too): the real jobs either fail with their documented error and leave stored data byte for byte as it was, or
succeed with data that agrees with what LiteLLM sent. Realistic answers come from the demo LiteLLM."""

from __future__ import annotations

import copy
import json
import re
import shutil
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from lib.appdb import open_app_database
from lib.catalog.sync import ModelSyncError, sync_models
from lib.catalog.tables import model_catalog
from lib.litellm.client import LiteLLMBadResponse, LiteLLMClient
from lib.litellm.demo import DemoLiteLLM, aggregate
from lib.usage.ingest import IngestError, backfill
from lib.usage.store import UsageStore

TODAY = date(2026, 11, 22)
START = TODAY - timedelta(days=2)
DAYS = [(START + timedelta(days=i)).isoformat() for i in range(3)]
FETCHED_AT = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
DEMO = DemoLiteLLM(seed=7, today=TODAY, days=3)
# LiteLLM's pages of a few of the demo's daily-table rows (as the demo serves them: pages count table rows and a
# date may span two); few rows keep each example fast, the shapes are the demo's (LiteLLM 1.108)
PAGE_SIZE = 12
ROWS = [r for day in DAYS for r in [row for row in DEMO.rows if row["date"] == day][:10]]
PAGES = [aggregate(ROWS[i : i + PAGE_SIZE], {k["hash"]: k for k in DEMO.keys}) for i in range(0, len(ROWS), PAGE_SIZE)]
for number, page in enumerate(PAGES, 1):
    page["metadata"].update({"page": number, "total_pages": len(PAGES), "has_more": number < len(PAGES)})
PAGE_BODIES = [json.dumps(page).encode() for page in PAGES]

# one value of each JSON type, some nested; a numeric string is a number to LiteLLM's readers too
VALUES = [
    None,
    "x",
    "",
    "12",
    7,
    2.5,
    True,
    [],
    [1, "a"],
    [{"date": "2026-11-22"}],
    {},
    {"spend": 1.0},
    {"a": {"b": [None]}},
]
HUGE = [10**30, 10**400]  # valid JSON numbers beyond BIGINT, and beyond a float
MUTATION = st.tuples(
    st.integers(0, 3),  # which page (activity) it hits
    st.lists(st.integers(0, 2**16), min_size=1, max_size=8),  # a walk down the document: child picked at each level
    st.sampled_from(["drop", "add", "retype", "huge"]),
    st.sampled_from(VALUES + HUGE),
)


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "str", list: "list", dict: "dict", type(None): "null"}[type(value)]


def mutate(doc, walk: list[int], op: str, value):
    """`doc` with one change where the walk ends: that field dropped, an unknown field added, its value
    replaced by one of another JSON type, or by a huge number. Returns the new document (the whole body may
    be replaced)."""
    parent, key, node = None, None, doc
    for choice in walk:
        keys = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        if not keys:
            break
        parent, key = node, keys[choice % len(keys)]
        node = parent[key]
    if op == "add" and isinstance(node, dict):
        node[f"field_from_the_future_{len(node)}"] = copy.deepcopy(value)
        return doc
    if op == "huge":
        value = HUGE[walk[-1] % 2]
    elif _kind(value) == _kind(node):
        value = [node]  # still another type: the old value wrapped in a list
    if parent is None:
        return copy.deepcopy(value)
    if op == "drop":
        del parent[key]
    else:
        parent[key] = copy.deepcopy(value)
    return doc


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _number(value) -> float:
    """A metric as LiteLLM's schema means it (lib/litellm/schemas.py): missing or null is 0; anything but a number
    (or a numeric string) makes the page a bad response."""
    if value is None:
        return 0.0
    if _kind(value) in ("number", "bool", "str"):
        return float(value)  # true is 1 (pydantic too); "x" raises ValueError
    raise TypeError(f"{value!r} is not a number")


def expected_day_totals(pages: list) -> dict[str, tuple[int, float]]:
    """Requests and spend of each fetched day as LiteLLM sent them: every page's results of that date summed."""
    totals = {d: [0.0, 0.0] for d in DAYS}
    for page in pages:
        for result in page["results"]:
            if result["date"] in totals:
                metrics = result.get("metrics") or {}
                totals[result["date"]][0] += _number(metrics.get("api_requests"))
                totals[result["date"]][1] += _number(metrics.get("spend"))
    return {d: (int(r), s) for d, (r, s) in totals.items()}


class MangledLiteLLM:
    """LiteLLM serving PAGES, with the drawn mutations applied to the pages they hit; records what it served."""

    def __init__(self, mutations=()):
        self.mutations, self.served = list(mutations), []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        if number <= len(PAGES):
            doc = json.loads(PAGE_BODIES[number - 1])
        else:  # past the last page (a mangled total_pages): no rows
            doc = {"results": [], "metadata": {"page": number, "total_pages": len(PAGES), "has_more": False}}
        for target, walk, op, value in self.mutations:
            if target == number - 1:
                doc = mutate(doc, walk, op, value)
        self.served.append(doc)
        return httpx.Response(200, content=json.dumps(doc).encode(), headers={"content-type": "application/json"})

    def client(self) -> LiteLLMClient:
        return LiteLLMClient("http://litellm.test", "sk-test", retries=0, transport=httpx.MockTransport(self))


def _backfill(fake: MangledLiteLLM, store: UsageStore):
    return backfill(
        fake.client(), store, START, TODAY, force=True, page_size=PAGE_SIZE, concurrency=1, now=lambda: FETCHED_AT
    )


@pytest.fixture(scope="module")
def stored_days(tmp_path_factory) -> Path:
    """A store holding the three days as LiteLLM sent them unmangled."""
    folder = tmp_path_factory.mktemp("store")
    _backfill(MangledLiteLLM(), UsageStore.writer(folder))
    return folder


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MUTATION, min_size=1, max_size=3))
def test_activity_pages_mangled_at_random_fail_cleanly_or_ingest_what_litellm_sent(stored_days, mutations):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "store"
        shutil.copytree(stored_days, folder)
        store = UsageStore.writer(folder)  # as the CLI's backfill writes beside a running app
        before, states = _files(folder), store.day_states()
        fake = MangledLiteLLM(mutations)
        try:
            _backfill(fake, store)
        except IngestError as exc:
            event("refused: " + re.sub(r"\d+", "N", str(exc).split(": ", 1)[1])[:90])  # --hypothesis-show-statistics
            assert "/user/daily/activity" in str(exc)
            assert _files(folder) == before and store.day_states() == states
            return
        finally:
            store.close()
        try:
            expected = expected_day_totals(fake.served)
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            pytest.fail(f"the backfill accepted a page LiteLLM's schema refuses ({exc}): {mutations}")
        event("ingested")
        states = UsageStore.writer(folder).day_states()
        assert sorted(d.isoformat() for d in states) == DAYS
        for day in DAYS:
            rows = pq.read_table(folder / "days" / f"{day}.parquet").to_pandas()
            assert len(rows) == states[date.fromisoformat(day)].rows
            totals = rows[rows["dim"] == "api_key"]  # the day's own total, split by key
            assert int(totals["api_requests"].sum()) == expected[day][0], day
            assert float(totals["spend"].sum()) == pytest.approx(expected[day][1], abs=1e-9), day


# -- /model/info -----------------------------------------------------------------------------------
MODEL_INFO = {"data": DEMO.model_info()}


def _catalogue(engine) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(select(model_catalog).order_by(model_catalog.c.name))]


def _serving(doc) -> LiteLLMClient:
    body = json.dumps(doc).encode()
    return LiteLLMClient(
        "http://litellm.test",
        "sk-test",
        retries=0,
        transport=httpx.MockTransport(
            lambda request: httpx.Response(200, content=body, headers={"content-type": "application/json"})
        ),
    )


@pytest.fixture(scope="module")
def app_engine(tmp_path_factory):
    """One app database for every example: each starts with a sync of the unmangled list."""
    engine = open_app_database(f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/app.db")
    yield engine
    engine.dispose()


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MUTATION, min_size=1, max_size=3))
def test_model_info_mangled_at_random_fails_cleanly_or_syncs_what_litellm_listed(app_engine, mutations):
    sync_models(app_engine, _serving(MODEL_INFO), "baseline")  # every demo model available
    before = _catalogue(app_engine)
    doc = copy.deepcopy(MODEL_INFO)
    for _page, walk, op, value in mutations:
        doc = mutate(doc, walk, op, value)
    try:
        result = sync_models(app_engine, _serving(doc), "fuzz")
    except ModelSyncError as exc:
        event("refused: " + re.sub(r"\d+", "N", str(exc.__cause__))[:90])
        # LiteLLM's answer refused, or the empty-list guard: never a crash of ours dressed up as a failure
        assert isinstance(exc.__cause__, (LiteLLMBadResponse, ModelSyncError)), repr(exc.__cause__)
        assert exc.result.status == "failed" and _catalogue(app_engine) == before
        return
    event("synced")
    assert isinstance(doc, dict) and isinstance(doc.get("data"), list), "the sync took a reply without its list"
    listed = {e["model_name"].strip() for e in doc["data"]} - {""}
    columns = model_catalog.c.keys()
    rows = {t[0]: dict(zip(columns, t)) for t in _catalogue(app_engine)}
    assert listed and result.total == len(listed)
    assert {name for name, row in rows.items() if row["available"]} == listed
    assert {t[0] for t in before} <= set(rows)  # nothing is ever deleted
