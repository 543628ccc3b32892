"""Load scenarios of SPEC §13 on the benchmark data set (`leadflow seed-demo --scale large`), for locust.

The measured figures of docs/performance.md come from `make bench` (bench/report.py: wrk for the closed loop, its own
paced client for latency); this file keeps the same scenarios for locust, to explore a load by hand (its web UI, other
user counts, mixes of tags) or from another machine.

One scenario per run, chosen with ``--tags``: ``bare`` (the yardstick, against bench/bare_app.py), ``list``,
``list_filtered``, ``get_one``, ``create``, ``transition``, ``transactions``, ``balance``, ``metrics``, ``login``,
``webhook`` (signed Mango call events from new callers to the benchmark campaigns' lines: the server must run with
``LEADFLOW_MANGO_API_KEY`` / ``LEADFLOW_MANGO_API_SALT`` equal to ``BENCH_MANGO_KEY`` / ``BENCH_MANGO_SALT``, by
default ``bench-mango-key`` / ``bench-mango-salt``).

Closed loop (throughput, 32 clients):

    uv run --group bench locust -f bench/locustfile.py --headless -u 32 -r 32 -t 30s --tags list \
        --host http://127.0.0.1:8765 --only-summary

Open load at a fixed rate: add ``--rate 100`` (requests per second across all clients, via ``constant_throughput``;
locust's latency is measured from the actual send, so an overloaded server shows less than it should: bench/report.py
measures from the scheduled moment). The service must run with ``LEADFLOW_RATE_LIMIT_EXEMPT_LOGINS=bench.admin``
(benchmark users are exempt from the rate limit by that setting, which production refuses) and, for ``login`` and
``webhook``, raised per-address limits (``LEADFLOW_RATE_LIMIT_PER_MINUTE``, ``LEADFLOW_LOGIN_RATE_LIMIT_PER_MINUTE``,
``LEADFLOW_WEBHOOK_RATE_LIMIT_PER_MINUTE``): sign-ins are anonymous, and all the load comes from one address.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from benchkit.calls import first_call_event
from gevent.lock import Semaphore
from locust import FastHttpUser, constant, constant_throughput, events, tag, task

from leadflow.demo.large import BENCH_ADMIN, BENCH_PASSWORD
from leadflow.telephony.mango import MangoProvider

LOGIN, PASSWORD = BENCH_ADMIN, BENCH_PASSWORD
MANGO_KEY = os.environ.get("BENCH_MANGO_KEY", "bench-mango-key")
MANGO_SALT = os.environ.get("BENCH_MANGO_SALT", "bench-mango-salt")
STATE: dict[str, Any] = {}
SETUP = Semaphore()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--rate", type=float, default=0, help="open load: total requests per second (0 = closed loop)")


def _wait(user: Any) -> float:
    options = user.environment.parsed_options
    if options is not None and options.rate:
        return constant_throughput(options.rate / max(1, options.num_users))(user)  # type: ignore[no-any-return]
    return constant(0)(user)  # type: ignore[no-any-return]


class Dispatcher(FastHttpUser):
    wait_time = _wait
    token: str = ""
    auth: dict[str, str] = {}  # noqa: RUF012 - replaced per client in on_start

    def on_start(self) -> None:
        if self.environment.parsed_options and "bare" in (self.environment.parsed_options.tags or []):
            return
        response = self.client.post(
            "/api/v1/auth/token", data={"username": LOGIN, "password": PASSWORD}, name="setup: token"
        )
        self.token = response.json()["access_token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}
        with SETUP:  # the first client reads the data set; the others wait for it (gevent switches on each call)
            if "lines" not in STATE:
                self._read_data_set()
        # Each client works one request of its own for the transition scenario.
        created = self.client.post(
            "/api/v1/requests", json=self._new_request(), headers=self.auth, name="setup: own request"
        ).json()
        self.mine, self.version = created["id"], created["version"]

    def _read_data_set(self) -> None:
        cities = self.client.get(
            headers=self.auth, url="/api/v1/cities", params={"per_page": 200, "q": "Бенч"}, name="setup: cities"
        ).json()["items"]
        STATE["cities"] = [c["id"] for c in cities]
        ids: list[int] = []
        total = self.client.get(
            headers=self.auth, url="/api/v1/requests", params={"per_page": 1}, name="setup: ids"
        ).json()["total"]
        pages = max(1, total // 200)
        for page in random.sample(range(1, pages + 1), min(5, pages)):
            listed = self.client.get(
                headers=self.auth, url="/api/v1/requests", params={"per_page": 200, "page": page}, name="setup: ids"
            ).json()
            ids += [item["id"] for item in listed["items"]]
        STATE["ids"] = ids
        active = {"per_page": 200, "active": "true"}
        campaigns = self.client.get(
            headers=self.auth, url="/api/v1/campaigns", params=active, name="setup: lines"
        ).json()["items"]
        STATE["lines"] = [c["phone"] for c in campaigns]

    def _new_request(self) -> dict[str, Any]:
        return {
            "city_id": random.choice(STATE["cities"]),
            "client_phone": f"7999{random.randint(0, 9_999_999):07d}",
            "client_name": "Нагрузочный Тест",
            "problem": "Не включается",
        }

    @tag("bare")
    @task
    def bare(self) -> None:
        self.client.get("/bare")

    @tag("list")
    @task
    def list_plain(self) -> None:
        self.client.get(headers=self.auth, url="/api/v1/requests", name="/api/v1/requests")

    @tag("list_filtered")
    @task
    def list_filtered(self) -> None:
        city = random.choice(STATE["cities"])
        self.client.get(
            headers=self.auth, url=f"/api/v1/requests?city_id={city}&queue=work", name="/api/v1/requests?city_id&queue"
        )

    @tag("get_one")
    @task
    def get_one(self) -> None:
        self.client.get(
            headers=self.auth, url=f"/api/v1/requests/{random.choice(STATE['ids'])}", name="/api/v1/requests/{id}"
        )

    @tag("create")
    @task
    def create(self) -> None:
        self.client.post("/api/v1/requests", json=self._new_request(), headers=self.auth, name="POST /api/v1/requests")

    @tag("transition")
    @task
    def transition(self) -> None:
        target = "callback" if self.version % 2 else "not_reached"
        with self.client.post(
            f"/api/v1/requests/{self.mine}/transitions",
            json={"to": target, "version": self.version},
            headers=self.auth,
            name="POST /api/v1/requests/{id}/transitions",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                self.version = response.json()["version"]
            else:
                response.failure(f"{response.status_code}")

    @tag("transactions")
    @task
    def transactions(self) -> None:
        city = random.choice(STATE["cities"])
        self.client.get(
            headers=self.auth, url=f"/api/v1/transactions?city_id={city}", name="/api/v1/transactions?city_id"
        )

    @tag("balance")
    @task
    def balance(self) -> None:
        self.client.get(headers=self.auth, url="/api/v1/cash/balance", name="/api/v1/cash/balance")

    @tag("metrics")
    @task
    def metrics(self) -> None:
        self.client.get(headers=self.auth, url="/api/v1/metrics/business", name="/api/v1/metrics/business")

    @tag("login")
    @task
    def login(self) -> None:
        # Spread over the 300 bench masters: more than five sign-ins of one login at once are turned away (429).
        who = f"bench.master.{random.randint(1, 300):03d}"
        self.client.post(
            "/api/v1/auth/token", data={"username": who, "password": PASSWORD}, name="POST /api/v1/auth/token"
        )

    @tag("webhook")
    @task
    def webhook(self) -> None:
        # A new caller's first event on a campaign line: a request is created (or attached), a call row written.
        caller, line = f"7998{random.randint(0, 9_999_999):07d}", random.choice(STATE["lines"])
        payload = json.dumps(first_call_event(caller, line), separators=(",", ":"))
        self.client.post(
            "/api/v1/telephony/mango/events/call",
            data=MangoProvider(MANGO_KEY, MANGO_SALT).delivery(payload),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            name="POST /api/v1/telephony/mango/events/call",
        )
