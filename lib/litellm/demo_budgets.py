"""Demo mode's LiteLLM users and teams with their own budgets: `/user/list`, `/user/info`, `/user/update`,
`/team/list`, `/team/info`, `/team/update` of LiteLLM 1.108, over the demo's users and teams, stateful.

Each user's and team's spend is what the demo's usage rows add up to (a user's: its keys'; a team's: its keys'),
and a deterministic share of them has a max_budget (a few near or over it), so the Budgets page's "LiteLLM's own
limits" has something to show. Shapes and errors as the harness's proxy answers (an unknown team is refused with
404, an unknown user is created by /user/update, a bad budget_duration is refused with 400).
"""

from __future__ import annotations

import json
import random
import threading
from datetime import timedelta

import httpx

from lib.core.clock import utcnow
from lib.litellm.demo_keys import _error, _iso, _json, _reset_at, _seconds

USER_PAGE_MAX = 100


class DemoOwners:
    """Over `demo`, a lib.litellm.demo.DemoLiteLLM (its seed, users, keys and usage rows)."""

    def __init__(self, demo):
        rng = random.Random(demo.seed * 7727 + 11)  # its own generator: the demo's other data stay as they were
        by_user: dict[str, float] = {}
        by_team: dict[str, float] = {}
        team_of = {k["hash"]: k.get("team_id") for k in demo.keys}
        for r in demo.rows:
            by_user[r["user_id"]] = by_user.get(r["user_id"], 0.0) + r["spend"]
            team = team_of.get(r["api_key"])
            if team:
                by_team[team] = by_team.get(team, 0.0) + r["spend"]
        now = utcnow()
        self._lock = threading.Lock()
        self.users: dict[str, dict] = {}
        for u in demo.users:
            spent = round(by_user.get(u["user_id"], 0.0), 10)
            budget, period = _budget(rng, spent, share=0.4)
            self.users[u["user_id"]] = {
                "user_id": u["user_id"],
                "user_email": u["user_email"],
                "user_alias": None,
                "user_role": "internal_user",
                "teams": [u["team"]] if u["team"] else [],
                "spend": spent,
                "max_budget": budget,
                "budget_duration": period,
                "budget_reset_at": _reset_at(period, now),
                "created_at": now - timedelta(days=200),
            }
        self.teams: dict[str, dict] = {}
        for name in sorted({u["team"] for u in demo.users if u["team"]}):
            spent = round(by_team.get(name, 0.0), 10)
            budget, period = _budget(rng, spent, share=0.8)
            self.teams[name] = {
                "team_id": name,
                "team_alias": name.removeprefix("team-").title(),
                "spend": spent,
                "max_budget": budget,
                "budget_duration": period,
                "budget_reset_at": _reset_at(period, now),
                "blocked": False,
                "created_at": now - timedelta(days=300),
            }

    def handle(self, request: httpx.Request, path: str) -> httpx.Response | None:
        """The answer to a users' or teams' request, or None for any other path."""
        if path not in ("/user/list", "/user/info", "/user/update", "/team/list", "/team/info", "/team/update"):
            return None
        q = request.url.params
        with self._lock:
            if request.method == "GET":
                if path == "/user/list":
                    return self._user_list(q)
                if path == "/team/list":
                    return _json(200, [_shown(t) for t in self.teams.values()])
                if path == "/user/info":
                    user = self.users.get(q.get("user_id", ""))
                    if user is None:
                        return _error(404, f"User {q.get('user_id', '')} not found", "internal_server_error")
                    return _json(200, {"user_id": user["user_id"], "user_info": _shown(user), "keys": [], "teams": []})
                if path == "/team/info":
                    team = self.teams.get(q.get("team_id", ""))
                    if team is None:
                        message = f"{{'message': 'Team not found, passed team id: {q.get('team_id', '')}.'}}"
                        return _error(404, message, "auth_error", param="None")
                    return _json(200, {"team_id": team["team_id"], "team_info": _shown(team), "keys": []})
                return _json(405, {"detail": "Method Not Allowed"})
            try:
                body = json.loads(request.content or b"{}")
            except ValueError:
                return _error(400, "Invalid JSON body", "bad_request_error")
            if not isinstance(body, dict):
                return _error(400, "Invalid JSON body", "bad_request_error")
            if path == "/team/update":
                return self._update(body, "team_id", self.teams, "Team")
            if path == "/user/update":
                return self._update(body, "user_id", self.users, "User")
            return _json(405, {"detail": "Method Not Allowed"})

    def _user_list(self, q) -> httpx.Response:
        try:
            page, size = int(q.get("page", 1)), int(q.get("page_size", 25))
        except ValueError:
            return _json(422, {"detail": [{"type": "int_parsing", "loc": ["query", "page"], "msg": "not an int"}]})
        if size > USER_PAGE_MAX or size < 1 or page < 1:
            msg = f"Input should be less than or equal to {USER_PAGE_MAX}"
            return _json(422, {"detail": [{"type": "less_than_equal", "loc": ["query", "page_size"], "msg": msg}]})
        users = sorted(self.users.values(), key=lambda u: u["created_at"], reverse=True)
        total_pages = max(1, -(-len(users) // size))
        part = users[(page - 1) * size : page * size]
        body = {"users": [_shown(u) for u in part], "total": len(users), "page": page, "page_size": size}
        return _json(200, body | {"total_pages": total_pages})

    def _update(self, body: dict, id_field: str, table: dict, what: str) -> httpx.Response:
        ident = str(body.get(id_field) or "")
        duration = body.get("budget_duration")
        if duration is not None and _seconds(duration) is None:
            message = (
                f"{{'error': \"Invalid budget_duration '{duration}'. Use a format like '1h', '24h', '7d', or '30d'.\"}}"
            )
            return _error(400, message, "internal_server_error")
        record = table.get(ident)
        if record is None:
            if what == "Team":
                return _error(404, f"{{'error': 'Team not found, passed team_id={ident}'}}", "internal_server_error")
            record = table[ident] = {  # LiteLLM's /user/update makes a user it does not know
                "user_id": ident,
                "user_email": None,
                "user_alias": None,
                "user_role": None,
                "teams": [],
                "spend": 0.0,
                "max_budget": None,
                "budget_duration": None,
                "budget_reset_at": None,
                "created_at": utcnow(),
            }
        if "max_budget" in body:
            record["max_budget"] = body["max_budget"]
        if "budget_duration" in body:
            record["budget_duration"] = duration
            record["budget_reset_at"] = _reset_at(duration, utcnow())
        return _json(200, {id_field: ident, "data": _shown(record)})


def _budget(rng: random.Random, spent: float, share: float) -> tuple[float | None, str | None]:
    """A max budget for `share` of them, a few near or over what they spent."""
    if rng.random() >= share:
        return None, None
    if spent > 0 and rng.random() < 0.35:
        budget = round(spent / rng.uniform(0.82, 1.08), 2)
    else:
        budget = max(rng.choice([100.0, 250.0, 500.0, 1000.0, 2500.0]), round(spent * rng.uniform(1.3, 3.0), -1))
    return budget, rng.choice([None, "30d", "30d", "7d"])


def _shown(r: dict) -> dict:
    return {k: _iso(v) for k, v in r.items()}
