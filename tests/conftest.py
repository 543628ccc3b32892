"""Test harness: the real database (SQLite by default, PostgreSQL when ``LEADFLOW_TEST_DATABASE_URL`` is set) and the
real Redis when ``LEADFLOW_TEST_REDIS_URL`` is set. Nothing of ours is mocked.

The schema is built once by the Alembic migrations; after every test the tables are emptied and the rows the
migrations seed are put back, so each test starts from a freshly migrated database.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, make_url, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from leadflow.accounts.models import MasterProfile, Role, User, UserCity
from leadflow.app import create_app
from leadflow.catalog.models import City
from leadflow.models import metadata
from leadflow.platform import migrations
from leadflow.platform.db import Database
from leadflow.platform.security import PasswordHasher
from leadflow.platform.settings import Settings

pytest_plugins = ["tests.support.imap", "tests.support.s3", "tests.support.redis_server"]

PASSWORD = "Correct-Horse-Battery-9"
SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
SEEDED_TABLES = ("request_types", "transaction_types")
HASHER = PasswordHasher(cheap=True)

DATABASE_URL = os.environ.get("LEADFLOW_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("LEADFLOW_TEST_REDIS_URL")
ON_POSTGRES = bool(DATABASE_URL and DATABASE_URL.startswith("postgresql"))


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("leadflow")


@pytest.fixture(scope="session")
def database_url(data_root: Path, worker_id: str) -> Iterator[str]:
    """One database per test process: a SQLite file, or (PostgreSQL) the given database for a single process and a
    fresh ``<name>_<worker>`` beside it for each pytest-xdist worker, dropped at the end."""
    if not DATABASE_URL:
        yield f"sqlite+aiosqlite:///{data_root / 'test.db'}"
        return
    if worker_id == "master" or not ON_POSTGRES:
        yield DATABASE_URL
        return
    url = make_url(DATABASE_URL)
    name = f"{url.database}_{worker_id}"
    admin_url = url.set(database="postgres")

    async def run(statement: str) -> None:
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(statement))
        await engine.dispose()

    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def seeded_rows(database_url: str) -> dict[str, list[dict[str, Any]]]:
    """Migrate once (this also proves every migration runs on this backend) and remember the seeded rows."""
    migrations.upgrade(database_url)

    async def snapshot() -> dict[str, list[dict[str, Any]]]:
        engine = create_async_engine(database_url)
        rows: dict[str, list[dict[str, Any]]] = {}
        async with engine.connect() as conn:
            for name in SEEDED_TABLES:
                result = await conn.execute(select(metadata.tables[name]))
                rows[name] = [dict(r._mapping) for r in result]
        await engine.dispose()
        return rows

    return asyncio.run(snapshot())


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": REDIS_URL,
        "redis_prefix": f"test-{uuid.uuid4().hex[:12]}",
        "data_dir": data_dir,
        "secret_key": SECRET,
        "password_hash_cheap": True,
        "rate_limit_per_minute": 10_000,
        "login_rate_limit_per_minute": 10_000,
        "log_level": "WARNING",
        "db_pool_size": 5,
        "db_max_overflow": 20,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def reset_database(database_url: str, seeded: dict[str, list[dict[str, Any]]]) -> None:
    engine = create_async_engine(database_url)
    tables = list(reversed(metadata.sorted_tables))
    async with engine.begin() as conn:
        if not ON_POSTGRES:
            await conn.execute(text("PRAGMA foreign_keys=OFF"))
        # Children first (reverse dependency order); DELETE beats TRUNCATE on tables this small.
        for table in tables:
            await conn.execute(table.delete())
        for name, rows in seeded.items():
            if rows:
                await conn.execute(insert(metadata.tables[name]), rows)
        if ON_POSTGRES:
            for name in SEEDED_TABLES:
                await conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
                )
    await engine.dispose()


@pytest.fixture
def settings_factory(database_url: str, seeded_rows: Any, tmp_path: Path):  # type: ignore[no-untyped-def]
    def factory(**overrides: Any) -> Settings:
        url = overrides.pop("database_url", database_url)
        return make_settings(url, tmp_path / "data", **overrides)

    return factory


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory()  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
async def _clean_database(database_url: str, seeded_rows: dict[str, list[dict[str, Any]]]) -> AsyncIterator[None]:
    yield
    await reset_database(database_url, seeded_rows)


TOKEN_ENDPOINTS = ("/api/v1/auth/token", "/api/v1/auth/refresh", "/api/v1/auth/2fa/setup")


async def no_secrets_in_responses(response: httpx.Response) -> None:
    """Every response of every test passes through here: no password hash anywhere, no token outside the token
    endpoints (the 2FA set-up answer carries the one-time secret and is exempt)."""
    body = (await response.aread()).decode("utf-8", errors="replace")
    for marker in ("$argon2", "$2b$", "$2a$", "password_hash", "totp_secret", "refresh_hash"):
        assert marker not in body, f"{marker} leaked by {response.request.url}"
    if response.request.url.path not in TOKEN_ENDPOINTS:
        assert "eyJ" not in body, f"a JWT leaked by {response.request.url}"


def _client(app: Any, ip: str, **kwargs: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 40000))
    hooks = {"response": [no_secrets_in_responses]}
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", event_hooks=hooks, **kwargs)


@dataclass
class Harness:
    """One app instance with its own client, plus helpers to make accounts and sign them in."""

    app: Any
    client: httpx.AsyncClient
    settings: Settings

    @property
    def database(self) -> Database:
        return self.app.state.database  # type: ignore[no-any-return]

    async def city(self, name: str | None = None, timezone: str = "Europe/Moscow") -> City:
        async with self.database.session() as session:
            city = City(name=name or f"City {uuid.uuid4().hex[:6]}", timezone=timezone, active=True)
            session.add(city)
            await session.commit()
            return city

    async def user(
        self,
        role: Role | str,
        *,
        cities: list[int] | None = None,
        master_city: int | None = None,
        login: str | None = None,
        password: str = PASSWORD,
    ) -> User:
        role = Role(role)
        async with self.database.session() as session:
            user = User(
                login=login or f"{role.value}-{uuid.uuid4().hex[:8]}",
                password_hash=await HASHER.hash(password),
                full_name=f"Test {role.value.title()}",
                role=role,
                status="active",
                token_version=0,
            )
            user.cities = [UserCity(city_id=c) for c in cities or []]
            if role is Role.master:
                assert master_city is not None, "a master needs master_city"
                user.master = MasterProfile(city_id=master_city, phone="79160000000")
            session.add(user)
            await session.commit()
            return user

    async def token(self, user: User | str, password: str = PASSWORD) -> str:
        login = user if isinstance(user, str) else user.login
        response = await self.client.post("/api/v1/auth/token", data={"username": login, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def signed_in(self, role: Role | str) -> httpx.AsyncClient:
        """A client signed in as a new user of ``role``; a master or a city-bound role gets a new city."""
        role = Role(role)
        if role is Role.admin:
            return await self.as_user(await self.user(role))
        city = await self.city()
        if role is Role.master:
            return await self.as_user(await self.user(role, master_city=city.id))
        return await self.as_user(await self.user(role, cities=[city.id]))

    async def as_user(self, user: User, password: str = PASSWORD) -> httpx.AsyncClient:
        """A second client sharing the app, signed in with a bearer token."""
        token = await self.token(user, password)
        return self.new_client(headers={"Authorization": f"Bearer {token}"})

    def new_client(self, ip: str = "127.0.0.1", **kwargs: Any) -> httpx.AsyncClient:
        return _client(self.app, ip, **kwargs)


@pytest.fixture
async def harness_factory(settings_factory: Any) -> AsyncIterator[Any]:
    made: list[Harness] = []

    async def factory(**overrides: Any) -> Harness:
        settings = settings_factory(**overrides)
        app = create_app(settings)
        client = _client(app, "127.0.0.1")
        harness = Harness(app=app, client=client, settings=settings)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        await harness.client.aclose()
        await harness.app.state.database.dispose()
        if harness.app.state.redis is not None:
            await harness.app.state.redis.aclose()


@pytest.fixture
async def h(harness_factory: Any) -> Harness:
    return await harness_factory()  # type: ignore[no-any-return]


def problem(response: httpx.Response, status: int, type_suffix: str | None = None) -> dict[str, Any]:
    """Assert a problem+json answer and return its body."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://leadflow.dev/problems/")
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["title"], str) and body["title"]
    if type_suffix is not None:
        assert body["type"].endswith("/" + type_suffix), body["type"]
    text_body = response.text.lower()
    for leak in ("traceback", "sqlalchemy", "select ", "/work/", "site-packages", "password_hash"):
        assert leak not in text_body, f"leak {leak!r} in {response.text}"
    return body


def error_fields(answer: httpx.Response | dict[str, Any]) -> list[str]:
    """The ``field`` of every entry of a problem body's ``errors``, sorted (duplicates kept). A response is checked
    with :func:`problem` first (at whatever status it has: check the status with ``problem`` when it matters)."""
    body = problem(answer, answer.status_code) if isinstance(answer, httpx.Response) else answer
    return sorted(str(e["field"]) for e in body["errors"])


@pytest.fixture
def redis_url() -> str:
    """The Redis under test. Skipped on the embedded run; on the PostgreSQL + Redis run of CI
    (``LEADFLOW_TEST_REQUIRE_SERVICES=1``) a missing Redis is a failure, never a skip."""
    if REDIS_URL:
        return REDIS_URL
    if os.environ.get("LEADFLOW_TEST_REQUIRE_SERVICES"):
        pytest.fail("LEADFLOW_TEST_REDIS_URL is required on this run")
    pytest.skip("needs Redis (set LEADFLOW_TEST_REDIS_URL)")
