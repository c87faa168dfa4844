"""The audit log on SQLite and PostgreSQL: masking, filters, CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert

from lib.appdb import open_app_database
from lib.auth.audit import audit, audit_actions, audit_actors, audit_csv, audit_log, list_audit, mask


@pytest.fixture
def engine(app_db_url):
    return open_app_database(app_db_url)


def test_mask_hides_every_secret_looking_key_at_any_depth():
    details = {
        "password": "hunter2",
        "new_password": "p",
        "client_secret": "s",
        "token": "t",
        "refresh_token": "r",
        "api_key": "sk-1",
        "LITELLM_API_KEY": "sk-2",
        "key": "k",
        "model": "gpt-4o",
        "empty_key": "",
        "nested": {"Password": "x", "list": [{"api_key": "sk-3", "ok": 1}]},
        "rows": 3,
    }
    masked = mask(details)
    assert masked == {
        "password": "***",
        "new_password": "***",
        "client_secret": "***",
        "token": "***",
        "refresh_token": "***",
        "api_key": "***",
        "LITELLM_API_KEY": "***",
        "key": "***",
        "model": "gpt-4o",
        "empty_key": "",
        "nested": {"Password": "***", "list": [{"api_key": "***", "ok": 1}]},
        "rows": 3,
    }
    assert details["password"] == "hunter2"  # the caller's dict is not modified


def test_audit_rows_store_who_when_what_and_masked_details(engine):
    before = datetime.now(timezone.utc)
    audit(
        engine,
        "admin",
        "models.sync",
        "all",
        "success",
        {"api_key": "sk-live-123", "count": 2, "day": date(2026, 1, 2)},
    )
    row = list_audit(engine).iloc[0]
    assert (row["actor"], row["action"], row["target"], row["outcome"]) == ("admin", "models.sync", "all", "success")
    at = row["at"].to_pydatetime()
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    assert before - timedelta(seconds=5) <= at <= datetime.now(timezone.utc) + timedelta(seconds=5)
    assert row["details"] == {"api_key": "***", "count": 2, "day": "2026-01-02"}
    assert "sk-live-123" not in json.dumps(list_audit(engine).to_dict("records"), default=str)


def test_an_oversized_value_never_breaks_the_action(engine):
    audit(engine, "x" * 5000, "login", "y" * 5000, "failure", {"reason": "z" * 100})
    row = list_audit(engine).iloc[0]
    assert len(row["actor"]) == 128 and len(row["target"]) == 512


def _at(engine, when: datetime, actor: str, action: str) -> None:
    with engine.begin() as c:
        c.execute(
            insert(audit_log).values(at=when, actor=actor, action=action, target="t", outcome="success", details={})
        )


def test_filters_by_user_action_and_inclusive_utc_days(engine):
    d = datetime(2026, 3, 10, tzinfo=timezone.utc)
    _at(engine, d - timedelta(seconds=1), "admin", "login")  # 9 March 23:59:59
    _at(engine, d, "admin", "user.create")  # 10 March 00:00
    _at(engine, d + timedelta(hours=23, minutes=59), "viewer", "login")
    _at(engine, d + timedelta(days=1), "admin", "logout")  # 11 March
    assert len(list_audit(engine)) == 4
    assert list_audit(engine, user="admin")["action"].tolist() == ["logout", "user.create", "login"]
    assert list_audit(engine, actor="viewer")["action"].tolist() == ["login"]  # the older keyword
    assert list_audit(engine, action="login")["actor"].tolist() == ["viewer", "admin"]
    day = list_audit(engine, start=date(2026, 3, 10), end=date(2026, 3, 10))
    assert day["action"].tolist() == ["login", "user.create"]
    assert list_audit(engine, user="admin", action="login", start=date(2026, 3, 10)).empty
    assert audit_actions(engine) == ["login", "logout", "user.create"]
    assert audit_actors(engine) == ["admin", "viewer"]


def test_csv_has_every_column_and_details_as_json(engine):
    audit(engine, "admin", "user.create", "bob", "success", {"role": "user", "password": "never-shown-1"})
    audit(engine, "bob", "login", "bob", "failure", {"reason": "wrong password"})
    text = audit_csv(engine, user="admin")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["action"] for r in rows] == ["user.create"]
    assert set(rows[0]) == {"id", "at", "actor", "action", "target", "outcome", "details"}
    assert json.loads(rows[0]["details"]) == {"role": "user", "password": "***"}
    assert audit_csv(list_audit(engine)).count("\n") == 3  # header + 2 rows, from a listed frame
    assert "never-shown-1" not in audit_csv(engine)


def test_csv_cells_a_spreadsheet_would_run_start_with_a_quote(engine):
    """An admin's refused attempt to create a user named like a formula, and a login by a name starting with @."""
    formula = "=cmd|' /C calc'!A0"
    audit(engine, "admin", "user.create", formula, "failure", {"error": "Username must be 1-64 letters"})
    audit(engine, "@evil", "login", "-2+3", "failure", {"reason": "wrong password", "failures": -1})
    rows = list(csv.DictReader(io.StringIO(audit_csv(engine), newline="")))
    assert [(r["actor"], r["target"]) for r in rows] == [("'@evil", "'-2+3"), ("admin", "'" + formula)]
    assert json.loads(rows[0]["details"]) == {"reason": "wrong password", "failures": -1}
    assert list_audit(engine)["target"].tolist() == ["-2+3", formula]  # stored and shown as typed
