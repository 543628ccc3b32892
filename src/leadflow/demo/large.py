"""The benchmark data set of SPEC §13: 20 cities, 50 campaigns, 300 masters, 200 000 requests over 12 months with
realistic statuses, money and events, 100 000 cash-desk transactions.

Rows are generated in memory (deterministically, from one seed) and written with bulk core INSERTs in batches, not
one ORM object at a time; the money of every done request is computed by the same rule as the service
(:func:`leadflow.requests.money.compute`), and each done request with a positive handover gets its one handover
income, so the data set obeys every rule the API enforces.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import MasterProfile, Role, User, UserCity
from leadflow.campaigns.models import Campaign
from leadflow.cash.models import Transaction
from leadflow.catalog.models import (
    ADVERTISING_SPEND,
    FIRST_TIME,
    MASTER_HANDOVER,
    REPEAT,
    City,
    Direction,
    RequestType,
    TransactionType,
)
from leadflow.demo.paths import PATHS, REFUSED_ON_SITE
from leadflow.platform.db import Database
from leadflow.platform.periods import local_date
from leadflow.platform.security import PasswordHasher
from leadflow.platform.settings import Settings
from leadflow.requests import money
from leadflow.requests.models import Request, RequestEvent
from leadflow.requests.workflow import Status

BENCH_PASSWORD = "bench-Leadflow-2026"
BENCH_ADMIN = "bench.admin"  # exempt from the rate limit in benchmark runs (LEADFLOW_RATE_LIMIT_EXEMPT_LOGINS)
CITY_NAMES = [
    ("Бенч Москва", "Europe/Moscow"),
    ("Бенч Санкт-Петербург", "Europe/Moscow"),
    ("Бенч Казань", "Europe/Moscow"),
    ("Бенч Нижний Новгород", "Europe/Moscow"),
    ("Бенч Самара", "Europe/Samara"),
    ("Бенч Уфа", "Asia/Yekaterinburg"),
    ("Бенч Екатеринбург", "Asia/Yekaterinburg"),
    ("Бенч Пермь", "Asia/Yekaterinburg"),
    ("Бенч Челябинск", "Asia/Yekaterinburg"),
    ("Бенч Омск", "Asia/Omsk"),
    ("Бенч Новосибирск", "Asia/Novosibirsk"),
    ("Бенч Красноярск", "Asia/Krasnoyarsk"),
    ("Бенч Воронеж", "Europe/Moscow"),
    ("Бенч Ростов-на-Дону", "Europe/Moscow"),
    ("Бенч Краснодар", "Europe/Moscow"),
    ("Бенч Волгоград", "Europe/Volgograd"),
    ("Бенч Саратов", "Europe/Saratov"),
    ("Бенч Тюмень", "Asia/Yekaterinburg"),
    ("Бенч Иркутск", "Asia/Irkutsk"),
    ("Бенч Владивосток", "Asia/Vladivostok"),
]
CHANNELS = ["avito", "yandex", "google", "vk", "2gis", "leaflet"]
FIRST_NAMES = ["Анна", "Игорь", "Ольга", "Сергей", "Мария", "Дмитрий", "Елена", "Павел", "Наталья", "Алексей"]
LAST_NAMES = ["Смирнов", "Иванов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков"]
STREETS = ["ул. Ленина", "пр. Мира", "ул. Гагарина", "ул. Садовая", "ул. Советская", "ул. Молодёжная"]
PROBLEMS = ["Не сливает воду", "Не морозит", "Шумит", "Не греет", "Течёт", "Не включается", "Выбивает автомат"]
SHARES = [None, None, Decimal("0.40"), Decimal("0.45"), Decimal("0.50"), Decimal("0.55"), Decimal("0.60")]
# Final statuses of requests older than two weeks, and of the recent ones (still being worked).
SETTLED = {  # about a third done: ~70 000 handovers, so that a third of the cash desk is other bookings
    Status.done: 34,
    Status.refused: 32,
    Status.not_reached: 12,
    Status.deferred: 2,
    Status.callback: 2,
    Status.in_progress: 1,
    Status.new: 1,
    Status.awaiting_dispatch: 1,
}
RECENT = {
    Status.new: 14,
    Status.callback: 8,
    Status.not_reached: 8,
    Status.awaiting_dispatch: 10,
    Status.awaiting_acceptance: 8,
    Status.accepted: 6,
    Status.en_route: 4,
    Status.in_progress: 8,
    Status.deferred: 4,
    Status.done: 20,
    Status.refused: 10,
}
EXTRA_TYPES = [("Бенч Аренда", "expense"), ("Бенч Зарплата", "expense"), ("Бенч Прочий приход", "income")]
BATCH = 5000


@dataclass(frozen=True)
class Scale:
    cities: int = 20
    campaigns: int = 50
    masters: int = 300
    requests: int = 200_000
    transactions: int = 100_000
    days: int = 365


Progress = Callable[[str, int, int], None]  # (table, rows just written, rows planned for it)


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


async def _write(session: AsyncSession, table: Any, rows: list[dict[str, Any]], name: str, progress: Progress) -> None:
    for chunk in _batches(rows):
        await session.execute(insert(table), chunk)
        progress(name, len(chunk), len(rows))


async def _next_id(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(model.id), 0))) or 0) + 1


async def already_loaded(session: AsyncSession) -> bool:
    return await session.scalar(select(City.id).where(City.name == CITY_NAMES[0][0])) is not None


async def load(
    settings: Settings, database: Database, progress: Progress, scale: Scale | None = None
) -> dict[str, int]:
    """Write the benchmark set into ``database``; return the row counts written."""
    scale = scale or Scale()
    rng = random.Random(13)  # noqa: S311 - repeatable benchmark data, not a secret
    counts: dict[str, int] = {}
    async with database.session() as session:
        if await already_loaded(session):
            return {}
        password_hash = await PasswordHasher(settings.password_hash_cheap).hash(BENCH_PASSWORD)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)

        # Reference data, campaigns, people --------------------------------------------------------------------
        city_id0 = await _next_id(session, City)
        cities: list[dict[str, Any]] = [
            {
                "id": city_id0 + i,
                "name": name,
                "timezone": zone,
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for i, (name, zone) in enumerate(CITY_NAMES[: scale.cities])
        ]
        await _write(session, City.__table__, cities, "cities", progress)
        zones = {c["id"]: c["timezone"] for c in cities}
        city_ids = [c["id"] for c in cities]
        type_id0 = await _next_id(session, TransactionType)
        extra_types = [
            {
                "id": type_id0 + i,
                "name": name,
                "kind": kind,
                "system": False,
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for i, (name, kind) in enumerate(EXTRA_TYPES)
        ]
        existing = {t.name for t in await session.scalars(select(TransactionType))}
        extra_types = [t for t in extra_types if t["name"] not in existing]
        await _write(session, TransactionType.__table__, extra_types, "transaction types", progress)
        types = {t.code: t.id for t in await session.scalars(select(TransactionType)) if t.code}
        other_types = {t.name: (t.id, t.kind) for t in await session.scalars(select(TransactionType)) if not t.system}
        request_types = {t.code: t.id for t in await session.scalars(select(RequestType))}
        direction_ids = list(await session.scalars(select(Direction.id)))
        if not direction_ids:
            direction_ids = [None]  # type: ignore[list-item]

        campaign_id0 = await _next_id(session, Campaign)
        campaigns: list[dict[str, Any]] = []
        for i in range(scale.campaigns):
            channel = CHANNELS[i % len(CHANNELS)]
            campaigns.append(
                {
                    "id": campaign_id0 + i,
                    "city_id": city_ids[i % len(city_ids)],
                    "name": f"{channel} #{i + 1}",
                    "channel": channel,
                    "phone": f"7800{7000000 + i:07d}",
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        await _write(session, Campaign.__table__, campaigns, "campaigns", progress)
        campaigns_by_city: dict[int, list[int]] = {}
        for c in campaigns:
            campaigns_by_city.setdefault(c["city_id"], []).append(c["id"])

        user_id0 = await _next_id(session, User)
        users: list[dict[str, Any]] = []
        profiles: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []
        masters_by_city: dict[int, list[tuple[int, Decimal | None]]] = {}

        def person(login: str, role: Role, name: str) -> int:
            uid = user_id0 + len(users)
            users.append(
                {
                    "id": uid,
                    "login": login,
                    "password_hash": password_hash,
                    "full_name": name,
                    "role": role,
                    "status": "active",
                    "token_version": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            return uid

        for i in range(scale.masters):
            city_id = city_ids[i % len(city_ids)]
            share = rng.choice(SHARES)
            uid = person(
                f"bench.master.{i + 1:03d}", Role.master, f"{rng.choice(LAST_NAMES)} {rng.choice(FIRST_NAMES)}"
            )
            profiles.append(
                {
                    "user_id": uid,
                    "city_id": city_id,
                    "phone": f"7916{5000000 + i:07d}",
                    "company_share": share,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            masters_by_city.setdefault(city_id, []).append((uid, share))
        for i in range(0, len(city_ids), 2):
            uid = person(f"bench.director.{i // 2 + 1:02d}", Role.director, f"Директор {i // 2 + 1}")
            links += [{"user_id": uid, "city_id": c} for c in city_ids[i : i + 2]]
        operators = [person(f"bench.operator.{i + 1:02d}", Role.operator, f"Оператор {i + 1}") for i in range(12)]
        person(BENCH_ADMIN, Role.admin, "Бенч Администратор")
        await _write(session, User.__table__, users, "users", progress)
        await _write(session, MasterProfile.__table__, profiles, "masters", progress)
        await _write(session, UserCity.__table__, links, "user cities", progress)

        # Requests, events, handovers --------------------------------------------------------------------------
        request_id0 = await _next_id(session, Request)
        event_id0 = await _next_id(session, RequestEvent)
        tx_id0 = await _next_id(session, Transaction)
        default_share = settings.company_share
        phones = [f"79{rng.randint(10**8, 10**9 - 1)}" for _ in range(int(scale.requests * 0.75))]
        seen: set[str] = set()
        start = now - dt.timedelta(days=scale.days)
        moments = sorted(
            start + dt.timedelta(seconds=rng.randint(0, scale.days * 86400)) for _ in range(scale.requests)
        )
        requests: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        transactions: list[dict[str, Any]] = []
        for n, created in enumerate(moments):
            rid = request_id0 + n
            city_id = rng.choice(city_ids)
            phone = rng.choice(phones)
            type_code = REPEAT if phone in seen else FIRST_TIME
            seen.add(phone)
            age = now - created
            mix = SETTLED if age > dt.timedelta(days=14) else RECENT
            status = rng.choices(list(mix), weights=list(mix.values()))[0]
            path = PATHS[status]
            if status is Status.refused and rng.random() < 0.4:
                path = REFUSED_ON_SITE
            masters = masters_by_city[city_id]
            master_id, share = rng.choice(masters) if Status.awaiting_acceptance in path else (None, None)
            operator = rng.choice(operators)
            row: dict[str, Any] = {
                "id": rid,
                "status": status,
                "source": "telephony" if rng.random() < 0.8 else "manual",
                "city_id": city_id,
                "campaign_id": rng.choice(campaigns_by_city.get(city_id, [None])),
                "request_type_id": request_types[type_code],
                "direction_id": rng.choice(direction_ids),
                "client_phone": phone,
                "client_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "address": None,
                "visit_at": None,
                "problem": rng.choice(PROBLEMS),
                "master_id": master_id,
                "was_assigned": master_id is not None,
                "operator_id": operator,
                "version": 1 + len(path),
                "created_at": created,
                "updated_at": created,
                "status_changed_at": created,
                "callback_at": None,
                "completed_at": None,
                "result": None,
                "expenses": None,
                "net_amount": None,
                "master_handover": None,
                "company_share": None,
            }
            if Status.awaiting_dispatch in path:
                row["address"] = f"{rng.choice(STREETS)}, {rng.randint(1, 150)}, кв. {rng.randint(1, 200)}"
                row["visit_at"] = created + dt.timedelta(hours=rng.randint(2, 48))
                row["version"] += 1
            events.append(
                {
                    "id": event_id0 + len(events),
                    "request_id": rid,
                    "at": created,
                    "actor_id": operator,
                    "kind": "created",
                    "from_status": None,
                    "to_status": "new",
                    "data": None,
                }
            )
            moment, previous = created, Status.new
            for target in path:
                moment = min(now, moment + dt.timedelta(minutes=rng.randint(5, 600)))
                events.append(
                    {
                        "id": event_id0 + len(events),
                        "request_id": rid,
                        "at": moment,
                        "actor_id": operator
                        if target in (Status.callback, Status.not_reached, Status.awaiting_dispatch)
                        else master_id,
                        "kind": "status_changed",
                        "from_status": previous,
                        "to_status": target,
                        "data": None,
                    }
                )
                previous = target
            row["status_changed_at"] = row["updated_at"] = moment
            if status is Status.callback:
                row["callback_at"] = moment + dt.timedelta(hours=rng.randint(1, 30))
            if status is Status.done:
                result = Decimal(rng.randrange(1500, 25000, 100))
                expenses = (result * Decimal(rng.choice(["0", "0", "0.1", "0.2", "0.35"]))).quantize(Decimal("1"))
                computed = money.compute(result, expenses, share or default_share)
                row.update(
                    result=computed.result,
                    expenses=computed.expenses,
                    net_amount=computed.net_amount,
                    master_handover=computed.master_handover,
                    company_share=computed.company_share,
                    completed_at=moment,
                )
                if computed.master_handover > 0:  # every done request has its handover, whatever the total
                    transactions.append(
                        {
                            "id": tx_id0 + len(transactions),
                            "city_id": city_id,
                            "type_id": types[MASTER_HANDOVER],
                            "amount": computed.master_handover,
                            "occurred_on": local_date(moment, zones[city_id]),
                            "payment_reason": f"Master handover, request #{rid}",
                            "request_id": rid,
                            "master_id": master_id,
                            "version": 1,
                            "created_at": moment,
                            "updated_at": moment,
                        }
                    )
            requests.append(row)

        # The rest of the cash desk: advertising spend per campaign, rent, salaries, other income. At least a fifth
        # of the transactions are such bookings even on a scale where the handovers alone would fill the total.
        planned = max(scale.transactions, len(transactions) + scale.transactions // 5)
        others = list(other_types.values())
        while len(transactions) < planned:
            day = (now - dt.timedelta(days=rng.randint(0, scale.days))).date()
            if rng.random() < 0.5:
                campaign = rng.choice(campaigns)
                type_id, city_id, campaign_id = types[ADVERTISING_SPEND], campaign["city_id"], campaign["id"]
                reason = "Оплата рекламы"
            else:
                type_id, _kind = rng.choice(others)
                city_id, campaign_id, reason = rng.choice(city_ids), None, "Касса"
            moment = dt.datetime.combine(day, dt.time(12), dt.UTC)
            transactions.append(
                {
                    "id": tx_id0 + len(transactions),
                    "city_id": city_id,
                    "type_id": type_id,
                    "amount": Decimal(rng.randrange(500, 30000, 50)),
                    "occurred_on": day,
                    "payment_reason": reason,
                    "request_id": None,
                    "campaign_id": campaign_id,
                    "master_id": None,
                    "version": 1,
                    "created_at": moment,
                    "updated_at": moment,
                }
            )
        # Every handover row has the same keys as the manual ones (executemany needs one shape).
        for tx in transactions:
            tx.setdefault("campaign_id", None)

        await _write(session, Request.__table__, requests, "requests", progress)
        await _write(session, RequestEvent.__table__, events, "request events", progress)
        await _write(session, Transaction.__table__, transactions, "transactions", progress)
        if database.dialect == "postgresql":
            for table in (
                "cities",
                "transaction_types",
                "advertising_campaigns",
                "users",
                "requests",
                "request_events",
                "transactions",
            ):
                # The table names are the literals above, never input.
                await session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608  # nosec B608
                )
        await session.commit()
        if database.dialect == "postgresql":
            async with database.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE"))  # statistics and the visibility map
        counts = {
            "cities": len(cities),
            "campaigns": len(campaigns),
            "masters": len(profiles),
            "users": len(users),
            "requests": len(requests),
            "request_events": len(events),
            "transactions": len(transactions),
        }
        return counts
