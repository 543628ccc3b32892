"""The scenarios of SPEC §13 (plus the bare ceiling, the liveness probe and two console fragments): what each sends,
for wrk (a Lua script of bench/wrk/ and its data files) and for the paced driver (a :class:`paced.Source`).

Everything a scenario needs is read from the running service first, through its API, as the benchmark's accounts of
the data set (`leadflow.demo.large`): the admin's bearer token, cities, request ids sampled over the whole table,
campaign lines, master logins, the operator's and the director's page sessions. Nothing is read from the database
behind the service's back, so ``--url`` can measure any running Leadflow loaded with the set.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchkit.calls import first_call_event
from benchkit.paced import Call, Source
from leadflow.demo.large import BENCH_ADMIN, BENCH_PASSWORD
from leadflow.requests.workflow import Status
from leadflow.telephony.mango import MangoProvider

OPERATOR = "bench.operator.01"  # no cities: the whole intake queue, as a central call center sees it
DIRECTOR = "bench.director.01"  # two cities
EXEMPT_LOGINS = (BENCH_ADMIN, OPERATOR, DIRECTOR)  # the accounts whose requests are measured: no rate limit
WEBHOOK_PATH = "/api/v1/telephony/mango/events/call"
LATENCY_BOUND_MS = {"read": 50.0, "write": 100.0}  # SPEC §13: paced p99 under these


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    kind: str  # "reference" (no target), "read" or "write"
    ratio: float | None = None  # SPEC §13 throughput target, a fraction of the bare endpoint's

    @property
    def latency_bound_ms(self) -> float | None:
        return LATENCY_BOUND_MS.get(self.kind)


SPECS = [
    Spec("bare", "bare FastAPI endpoint (ceiling)", "reference"),
    Spec("health", "GET /health/live", "reference"),
    Spec("list", "list requests, first page", "read", 0.20),
    Spec("list_filtered", "list requests, city + status", "read", 0.20),
    Spec("get_one", "get one request", "read", 0.35),
    Spec("create", "create a request", "write", 0.10),
    Spec("transition", "transition (callback / not reached)", "write", 0.10),
    Spec("transactions", "list transactions, city", "read", 0.20),
    Spec("balance", "cash balance", "read"),
    Spec("metrics", "business metrics", "read"),
    Spec("login", "login (token, argon2id)", "write"),
    Spec("webhook", "webhook: Mango call event", "write", 0.10),
    Spec("intake", "console: intake queue (operator)", "read"),
    Spec("board", "console: board view (director)", "read"),
]
BY_NAME = {spec.name: spec for spec in SPECS}
SERVICE = [spec.name for spec in SPECS if spec.name != "bare"]


def _urlencode(data: Mapping[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(data).encode()


# Paced sources ------------------------------------------------------------------------------------------------------
class Paths:
    def __init__(self, paths: list[str], headers: Mapping[str, str]) -> None:
        self.paths, self.headers = paths, headers

    async def next(self) -> Call:
        return Call("GET", random.choice(self.paths), self.headers)

    def answered(self, call: Call, status: int, body: bytes) -> None:
        pass

    def failed(self, call: Call) -> None:
        pass


class Creates(Paths):
    def __init__(self, cities: list[int], headers: Mapping[str, str], phones: Phones) -> None:
        super().__init__([], {**headers, "Content-Type": "application/json"})
        self.cities, self.phones = cities, phones

    async def next(self) -> Call:
        body = {
            "city_id": random.choice(self.cities),
            "client_phone": self.phones.next(),
            "client_name": "Нагрузочный Тест",
            "problem": "Не включается",
        }
        return Call("POST", "/api/v1/requests", self.headers, json.dumps(body, ensure_ascii=False).encode())


class Logins(Paths):
    def __init__(self, logins: list[str], password: str) -> None:
        super().__init__([], {"Content-Type": "application/x-www-form-urlencoded"})
        self.logins, self.password = logins, password

    async def next(self) -> Call:
        body = _urlencode({"username": random.choice(self.logins), "password": self.password})
        return Call("POST", "/api/v1/auth/token", self.headers, body)


class Webhooks(Paths):
    def __init__(self, events: CallEvents) -> None:
        super().__init__([], {"Content-Type": "application/x-www-form-urlencoded"})
        self.events = events

    async def next(self) -> Call:
        return Call("POST", WEBHOOK_PATH, self.headers, self.events.next().encode())


class Moves:
    """Transitions on the benchmark's own requests, each in flight at most once (see bench/wrk/transition.lua)."""

    def __init__(self, pool: list[tuple[int, int, str]], headers: Mapping[str, str]) -> None:
        self.headers = {**headers, "Content-Type": "application/json"}
        self.free: asyncio.Queue[tuple[int, int, str]] = asyncio.Queue()
        for item in pool:
            self.free.put_nowait(item)

    async def next(self) -> Call:
        rid, version, status = await self.free.get()
        target = "not_reached" if status == "callback" else "callback"
        body = json.dumps({"to": target, "version": version}).encode()
        return Call("POST", f"/api/v1/requests/{rid}/transitions", self.headers, body, key=str(rid))

    def answered(self, call: Call, status: int, body: bytes) -> None:
        if 200 <= status < 300 and call.key is not None:
            moved = json.loads(body)
            self.free.put_nowait((int(call.key), int(moved["version"]), str(moved["status"])))

    def failed(self, call: Call) -> None:
        pass  # its version is unknown now: dropped, like the Lua script does


# Unique data --------------------------------------------------------------------------------------------------------
class Phones:
    """New client numbers, 79 and nine digits, from a random base: unique within a run, and between runs but rarely."""

    def __init__(self) -> None:
        self.base = random.randrange(10**9)
        self.sent = 0

    def next(self) -> str:
        self.sent += 1
        return f"79{(self.base + self.sent) % 10**9:09d}"

    def take(self, count: int) -> int:
        """Reserve ``count`` numbers for wrk's script; the base it starts from."""
        start = self.base + self.sent
        self.sent += count
        return start % 10**9


class CallEvents:
    """Signed first events of new inbound calls on the data set's campaign lines, as the provider posts them (the
    payload of `shared/fixtures/mango/inbound_answered/01`, signed by the service's own rule)."""

    def __init__(self, provider: MangoProvider, lines: list[str]) -> None:
        self.provider, self.lines, self.phones = provider, lines, Phones()

    def next(self) -> str:
        return self.provider.delivery(first_call_event(self.phones.next(), random.choice(self.lines)))


# The service as the benchmark's accounts see it --------------------------------------------------------------------
class Scenarios:
    def __init__(
        self,
        service_url: str,
        bare_url: str,
        mango: MangoProvider,
        folder: Path,
        connections: int,
        threads: int,
    ) -> None:
        self.url, self.bare_url, self.folder = service_url, bare_url, folder
        self.connections, self.threads = connections, threads
        self.http = httpx.Client(base_url=service_url, timeout=60)
        self.events: CallEvents | None = None
        self.mango = mango
        self.phones = Phones()
        self.tokens: dict[str, str] = {}
        self.pool: list[int] = []
        self.pool_name = f"Нагрузочный Тест {uuid.uuid4().hex[:8]}"  # this run's transition requests
        self.runs = 0

    def close(self) -> None:
        self.http.close()

    # Reading the data set ------------------------------------------------------------------------------------------
    def token(self, login: str) -> str:
        response = self.http.post("/api/v1/auth/token", data={"username": login, "password": BENCH_PASSWORD})
        if response.status_code != 200:
            raise RuntimeError(
                f"cannot sign in as {login} ({response.status_code}: {response.text[:200]}); is the benchmark data set"
                " (leadflow seed-demo --scale large) loaded?"
            )
        return str(response.json()["access_token"])

    def renew_tokens(self) -> None:
        """Fresh access tokens (they live 15 minutes; a full run takes longer) for the admin, operator, director."""
        self.tokens = {login: self.token(login) for login in EXEMPT_LOGINS}

    def bearer(self, login: str = BENCH_ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[login]}"}

    def cookie(self, login: str) -> dict[str, str]:
        return {"Cookie": f"access_token={self.tokens[login]}"}

    def _get(self, path: str, login: str = BENCH_ADMIN, **params: Any) -> Any:
        response = self.http.get(path, params=params, headers=self.bearer(login))
        response.raise_for_status()
        return response.json()

    def _all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            found = self._get(path, page=page, per_page=200, **params)
            items += found["items"]
            if len(items) >= found["total"] or not found["items"]:
                return items
            page += 1

    def prepare(self) -> dict[str, Any]:
        """Read what the scenarios need; a summary of it."""
        self.renew_tokens()
        cities = [c for c in self._all("/api/v1/cities") if c["name"].startswith("Бенч")]
        self.cities = [c["id"] for c in cities] or [c["id"] for c in self._all("/api/v1/cities")]
        total = self._get("/api/v1/requests", per_page=1)["total"]
        pages = max(1, total // 200)
        ids: set[int] = set()
        for page in random.sample(range(1, pages + 1), min(5, pages)):
            ids |= {item["id"] for item in self._get("/api/v1/requests", page=page, per_page=200)["items"]}
        self.ids = sorted(ids)
        campaigns = self._all("/api/v1/campaigns", active="true")
        self.lines = [c["phone"] for c in campaigns if c.get("phone")]
        self.events = CallEvents(self.mango, self.lines)
        masters = self._all("/api/v1/users", role="master", q="bench.master")
        self.logins = sorted(m["login"] for m in masters)
        director = self._get("/api/v1/auth/me", login=DIRECTOR)
        self.board_city = sorted(director["city_ids"])[0]
        self.transactions_total = self._get("/api/v1/transactions", per_page=1)["total"]
        return {
            "requests": total,
            "transactions": self.transactions_total,
            "bench_cities": len(self.cities),
            "campaign_lines": len(self.lines),
            "master_logins": len(self.logins),
            "sampled_request_ids": len(self.ids),
        }

    def _own_requests(self) -> list[tuple[int, int, str]]:
        """The transition scenario's requests (four per connection), created once; their current version and status."""
        want = 4 * self.connections
        while len(self.pool) < want:
            body = {
                "city_id": random.choice(self.cities),
                "client_phone": self.phones.next(),
                "client_name": self.pool_name,
                "problem": "Переходы статусов",
            }
            response = self.http.post("/api/v1/requests", json=body, headers=self.bearer())
            response.raise_for_status()
            self.pool.append(response.json()["id"])
        # One search by the pool's own client name reads them all; any it misses is read alone.
        listed = self._get("/api/v1/requests", q=self.pool_name, per_page=200)["items"]
        current = {item["id"]: item for item in listed}
        found = []
        for rid in self.pool:
            item = current.get(rid) or self._get(f"/api/v1/requests/{rid}")
            if item["status"] in ("new", "callback", "not_reached"):
                found.append((rid, int(item["version"]), str(item["status"])))
        return found

    # Plans ---------------------------------------------------------------------------------------------------------
    def _paths(self, name: str) -> tuple[str, list[str], dict[str, str]]:
        """(base url, paths, headers) of a GET scenario."""
        if name == "bare":
            return self.bare_url, ["/bare"], {}
        if name == "health":
            return self.url, ["/health/live"], {}
        if name == "list":
            return self.url, ["/api/v1/requests"], self.bearer()
        if name == "list_filtered":
            paths = [f"/api/v1/requests?city_id={c}&status={s.value}" for c in self.cities for s in Status]
            return self.url, paths, self.bearer()
        if name == "get_one":
            return self.url, [f"/api/v1/requests/{i}" for i in self.ids], self.bearer()
        if name == "transactions":
            return self.url, [f"/api/v1/transactions?city_id={c}" for c in self.cities], self.bearer()
        if name == "balance":
            return self.url, ["/api/v1/cash/balance"], self.bearer()
        if name == "metrics":
            return self.url, ["/api/v1/metrics/business"], self.bearer()
        if name == "intake":  # what htmx fetches on every change of the queue (templates/intake.html)
            return self.url, ["/intake/rows?q="], self.cookie(OPERATOR)
        if name == "board":  # likewise the board (templates/fragments/board_view.html)
            return self.url, [f"/board/view?city_id={self.board_city}&day=today"], self.cookie(DIRECTOR)
        raise KeyError(name)

    def _file(self, folder: Path, name: str, lines: list[str]) -> str:
        path = folder / name
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        return str(path)

    def wrk_plan(self, name: str, seconds: int, ceiling_rps: float) -> tuple[str, str, dict[str, str]]:
        """(url, script, environment) of one wrk run; ``ceiling_rps`` bounds how many one-off bodies to prepare."""
        self.runs += 1
        folder = self.folder / f"{self.runs:02d}-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        if name in ("create", "transition", "webhook", "login"):
            headers = self.bearer() if name in ("create", "transition") else {}
            env = {"BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items())}
            if name == "create":
                cities = ",".join(map(str, self.cities))
                env |= {"BENCH_CITIES": cities, "BENCH_PHONE_BASE": str(self.phones.take(10**8))}
                return self.url, "create.lua", env
            if name == "transition":
                pool = [f"{rid} {version} {status}" for rid, version, status in self._own_requests()]
                return self.url, "transition.lua", env | {"BENCH_POOL": self._file(folder, "pool.txt", pool)}
            if name == "login":
                env |= {"BENCH_LOGINS": self._file(folder, "logins.txt", self.logins), "BENCH_PASSWORD": BENCH_PASSWORD}
                return self.url, "login.lua", env
            assert self.events is not None
            # One body per request, never replayed: enough for a webhook at 30 % of the bare ceiling (three times
            # the target); a faster service runs out, and the "starved" error says so.
            per_thread = int(ceiling_rps * seconds * 0.3 / self.threads) + 200
            for thread in range(self.threads):
                self._file(folder, f"{thread}.txt", [self.events.next() for _ in range(per_thread)])
            return self.url, "replay.lua", env | {"BENCH_BODIES_DIR": str(folder), "BENCH_PATH": WEBHOOK_PATH}
        url, paths, headers = self._paths(name)
        env = {
            "BENCH_PATHS": self._file(folder, "paths.txt", paths),
            "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items()),
        }
        return url, "get.lua", env

    def paced_source(self, name: str) -> tuple[str, Source]:
        if name == "create":
            return self.url, Creates(self.cities, self.bearer(), self.phones)
        if name == "transition":
            return self.url, Moves(self._own_requests(), self.bearer())
        if name == "login":
            return self.url, Logins(self.logins, BENCH_PASSWORD)
        if name == "webhook":
            assert self.events is not None
            return self.url, Webhooks(self.events)
        url, paths, headers = self._paths(name)
        return url, Paths(paths, headers)
