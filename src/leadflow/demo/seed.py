"""The small demo data set that ``make run`` loads once: cities, directions, a team, campaigns, requests in every
status (driven through the real services, so events, money and the cash desk agree), a few cash-desk bookings, and
the demo admin.

The demo admin's password is generated on first run and kept in ``DATA_DIR/demo-admin.txt`` (readable only by the
owner) so that later runs can print it again. The other demo accounts share ``DEMO_PASSWORD``.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import Role, User
from leadflow.accounts.policies import Principal
from leadflow.accounts.schemas import MasterProfileIn, UserCreate
from leadflow.accounts.service import UserService
from leadflow.campaigns import service as campaigns
from leadflow.campaigns.schemas import CampaignCreate
from leadflow.cash import service as cash
from leadflow.cash.schemas import TransactionCreate
from leadflow.catalog import service as catalog
from leadflow.catalog.models import ADVERTISING_SPEND
from leadflow.catalog.schemas import CityCreate, DirectionCreate, TransactionTypeCreate
from leadflow.demo.paths import PATHS, REFUSED_ON_SITE
from leadflow.platform import periods
from leadflow.platform.client import ClientInfo
from leadflow.platform.db import Database
from leadflow.platform.security import PasswordHasher
from leadflow.platform.settings import Settings
from leadflow.requests import editing as request_editing
from leadflow.requests import intake as request_intake
from leadflow.requests import transitions as request_transitions
from leadflow.requests.schemas import RequestCreate, RequestUpdate, TransitionIn
from leadflow.requests.workflow import Status
from leadflow.telephony import service as telephony
from leadflow.telephony.providers import CallEvent, Direction, EventKind

ADMIN_LOGIN = "admin"
DEMO_PASSWORD = "demo-Leadflow-2026"
# The accounts `make run` prints, one of each role the console has a home page for (role, login).
DEMO_TEAM = (
    ("director", "director.msk"),
    ("operator", "operator.1"),
    ("marketer", "marketer.1"),
    ("master", "master.ivanov"),
)
CITIES = [
    ("Москва", "Europe/Moscow"),
    ("Санкт-Петербург", "Europe/Moscow"),
    ("Казань", "Europe/Moscow"),
    ("Екатеринбург", "Asia/Yekaterinburg"),
]
DIRECTIONS = ["Стиральные машины", "Холодильники", "Посудомоечные машины", "Плиты и духовки", "Кондиционеры"]
EXTRA_TYPES = [
    ("Прочий приход", "income"),
    ("Зарплата", "expense"),
    ("Аренда", "expense"),
    ("Прочий расход", "expense"),
]
CHANNELS = ["avito", "yandex", "leaflet"]
CLIENTS = ["Анна Смирнова", "Игорь Ким", "Ольга Белова", "Сергей Орлов", "Мария Лебедева", "Дмитрий Зуев"]
STREETS = ["ул. Ленина", "пр. Мира", "ул. Гагарина", "ул. Садовая", "Невский пр.", "ул. Баумана"]
PROBLEMS = ["Не сливает воду", "Не морозит", "Шумит при отжиме", "Не греет", "Течёт", "Не включается"]
# How many demo requests end in each status: every queue has something to show.
STATUS_MIX = {
    Status.new: 5,
    Status.callback: 3,
    Status.not_reached: 2,
    Status.awaiting_dispatch: 4,
    Status.awaiting_acceptance: 3,
    Status.accepted: 2,
    Status.en_route: 1,
    Status.in_progress: 3,
    Status.deferred: 1,
    Status.done: 6,
    Status.refused: 3,
}
MASTERS = [
    ("master.ivanov", "Иванов Пётр", 0, "+7 916 100-00-01"),
    ("master.petrov", "Петров Алексей", 0, "+7 916 100-00-02"),
    ("master.sidorov", "Сидоров Игорь", 1, "+7 921 100-00-03"),
    ("master.kuznetsov", "Кузнецов Олег", 2, "+7 843 100-00-04"),
    ("master.volkov", "Волков Андрей", 3, "+7 343 100-00-05"),
]


def _credentials_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-admin.txt"


async def seed(settings: Settings, database: Database) -> tuple[str, str, bool]:
    """Load the demo set unless the database already has users; return (admin login, password, created)."""
    hasher = PasswordHasher(settings.password_hash_cheap)
    users = UserService(hasher)
    path = _credentials_file(settings)
    async with database.session() as session:
        if await session.scalar(select(func.count()).select_from(User)):
            password = path.read_text(encoding="utf-8").strip() if path.exists() else "(set when it was created)"
            return ADMIN_LOGIN, password, False
        password = secrets.token_urlsafe(12)
        admin = await users.create_admin(session, ADMIN_LOGIN, password, "Демо Администратор")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(password + "\n", encoding="utf-8")
        path.chmod(0o600)

        principal = Principal(admin.id, ADMIN_LOGIN, Role.admin, frozenset(), None, "seed")
        client = ClientInfo(ip=None, user_agent="leadflow seed-demo")
        city_ids = []
        for name, zone in CITIES:
            city = await catalog.cities.create(session, CityCreate(name=name, timezone=zone))
            city_ids.append(city.id)
        for name in DIRECTIONS:
            await catalog.directions.create(session, DirectionCreate(name=name))
        for name, kind in EXTRA_TYPES:
            await catalog.transaction_types.create(session, TransactionTypeCreate(name=name, kind=kind))
        team = [
            ("director.msk", "Смирнова Анна", Role.director, city_ids[:2]),
            ("director.kzn", "Галиев Рустам", Role.director, city_ids[2:]),
            ("operator.1", "Орлова Мария", Role.operator, []),
            ("marketer.1", "Волков Денис", Role.marketer, []),
        ]
        for login, full_name, role, cities in team:
            await users.create_user(
                session,
                principal,
                UserCreate(login=login, password=DEMO_PASSWORD, full_name=full_name, role=role, city_ids=cities),
                client,
            )
        master_ids: dict[int, list[int]] = {}
        for login, full_name, city_index, phone in MASTERS:
            master = await users.create_user(
                session,
                principal,
                UserCreate(
                    login=login,
                    password=DEMO_PASSWORD,
                    full_name=full_name,
                    role=Role.master,
                    master=MasterProfileIn(city_id=city_ids[city_index], phone=phone),
                ),
                client,
            )
            master_ids.setdefault(city_ids[city_index], []).append(master.id)
        await _campaigns_and_requests(session, principal, settings, city_ids, master_ids)
        return ADMIN_LOGIN, password, True


async def _campaigns_and_requests(
    session: AsyncSession,
    admin: Principal,
    settings: Settings,
    city_ids: list[int],
    master_ids: dict[int, list[int]],
) -> None:
    rng = random.Random(2026)  # noqa: S311 - repeatable demo data, not a secret
    share = settings.company_share
    campaign_ids: dict[int, list[int]] = {}
    for index, city_id in enumerate(city_ids):
        for n, channel in enumerate(CHANNELS[:2]):
            campaign = await campaigns.create_campaign(
                session,
                admin,
                CampaignCreate(
                    city_id=city_id,
                    name=f"{channel.title()} {n + 1}",
                    channel=channel,
                    phone=f"+7 800 555-{index}{n}-00",
                ),
            )
            campaign_ids.setdefault(city_id, []).append(campaign.id)
    dispatched = [c for c in city_ids if master_ids.get(c)]
    tomorrow = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    mix = [s for s, count in STATUS_MIX.items() for _ in range(count)]
    rng.shuffle(mix)  # the newest requests in each queue are a mix, as on a real day
    for number, status in enumerate(mix):
        needs_master = status not in (Status.new, Status.callback, Status.not_reached, Status.awaiting_dispatch)
        city_id = rng.choice(dispatched if needs_master or status is Status.refused else city_ids)
        request = await request_intake.create_request(
            session,
            admin,
            RequestCreate(
                city_id=city_id,
                client_phone=f"+7 916 {rng.randint(100, 999)}-{rng.randint(10, 99)}-{number:02d}",
                client_name=rng.choice(CLIENTS),
                campaign_id=rng.choice(campaign_ids[city_id]),
                problem=rng.choice(PROBLEMS),
            ),
        )
        path = PATHS[status]
        if status is Status.refused and number % 2:
            path = REFUSED_ON_SITE
        if Status.awaiting_dispatch in path:
            request = await request_editing.update_request(
                session,
                admin,
                request.id,
                RequestUpdate(
                    address=f"{rng.choice(STREETS)}, {rng.randint(1, 120)}",
                    visit_at=tomorrow + dt.timedelta(hours=rng.randint(0, 48)),
                    version=request.version,
                ),
                None,
                default_share=share,
            )
        for target in path:
            body = TransitionIn(to=target, version=request.version)
            if target is Status.awaiting_acceptance:
                body.master_id = rng.choice(master_ids[city_id])
            elif target is Status.done:
                result = Decimal(rng.randrange(1500, 15000, 100))
                body.result, body.expenses = (
                    result,
                    (result * Decimal(rng.choice(["0", "0.1", "0.25"]))).quantize(Decimal("1")),
                )
            elif target is Status.deferred:
                body.note = "Ждём запчасть"
            elif target is Status.refused:
                body.reason = "Дорого"
            elif target is Status.callback:
                body.callback_at = tomorrow
            request = await request_transitions.transition(session, admin, request.id, body, None, default_share=share)
    first = city_ids[0]
    await _board_day(session, admin, share, first, master_ids[first], campaign_ids[first][0])
    await _calls(session, rng)
    spend = await catalog.system_transaction_type(session, ADVERTISING_SPEND)
    today = periods.today(settings.timezone)
    for city_id in city_ids:
        for campaign_id in campaign_ids[city_id]:
            await cash.create_transaction(
                session,
                admin,
                TransactionCreate(
                    city_id=city_id,
                    type_id=spend.id,
                    amount=Decimal(rng.randrange(3000, 20000, 500)),
                    occurred_on=today,
                    payment_reason="Оплата рекламы",
                    campaign_id=campaign_id,
                ),
            )


# The demo director's board (the first city): (minutes from now, status, which master or None, client).
BOARD_DAY = (
    (-75, Status.accepted, 0, "Анна Смирнова"),  # late: the visit has passed and the master is not on the way
    (30, Status.en_route, 1, "Игорь Ким"),
    (90, Status.accepted, 0, "Ольга Белова"),
    (150, Status.awaiting_acceptance, 1, "Сергей Орлов"),
    (120, Status.awaiting_dispatch, None, "Мария Лебедева"),
    (240, Status.awaiting_dispatch, None, "Дмитрий Зуев"),
    (24 * 60 + 60, Status.accepted, 1, "Анна Смирнова"),
    (24 * 60 + 120, Status.awaiting_dispatch, None, "Игорь Ким"),
)


async def _board_day(
    session: AsyncSession, admin: Principal, share: Decimal, city_id: int, masters: list[int], campaign_id: int
) -> None:
    """Jobs around the time the demo is seeded, so that the dispatch board has something on it today and tomorrow:
    a late one, one en route, one awaiting the master's answer, a few in the tray, and tomorrow's."""
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    now -= dt.timedelta(minutes=now.minute % 15)
    for number, (minutes, status, master, client) in enumerate(BOARD_DAY):
        request = await request_intake.create_request(
            session,
            admin,
            RequestCreate(
                city_id=city_id,
                client_phone=f"+7 916 200-30-{number:02d}",
                client_name=client,
                campaign_id=campaign_id,
                address=f"{STREETS[number % len(STREETS)]}, {10 + number}",
                visit_at=now + dt.timedelta(minutes=minutes),
                problem=PROBLEMS[number % len(PROBLEMS)],
            ),
        )
        path = [Status.awaiting_dispatch]
        if master is not None:
            path += [Status.awaiting_acceptance]
            path += {Status.accepted: [Status.accepted], Status.en_route: [Status.accepted, Status.en_route]}.get(
                status, []
            )
        for target in path:
            body = TransitionIn(to=target, version=request.version)
            if target is Status.awaiting_acceptance:
                body.master_id = masters[master % len(masters)] if master is not None else None
            request = await request_transitions.transition(session, admin, request.id, body, None, default_share=share)


async def _calls(session: AsyncSession, rng: random.Random) -> None:
    """A few calls through the telephony service, as the provider would report them: two new leads, a second call
    of the same client (attached), a call to a number no campaign uses, and an outbound call."""
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    calls = [
        ("79035550101", "78005550000", Direction.inbound, 95),
        ("79035550102", "78005550100", Direction.inbound, 0),
        ("79035550101", "78005550000", Direction.inbound, 40),
        ("79035550103", "79587770000", Direction.inbound, 0),
        (None, None, Direction.outbound, 60),
    ]
    window = dt.timedelta(minutes=30)
    for number, (caller, line, direction, talked) in enumerate(calls):
        at = started + dt.timedelta(minutes=7 * number + rng.randint(0, 5))
        entry = f"demo-{number + 1}"
        first = CallEvent("mango", EventKind.call, "call", entry, direction, caller, line, at)
        await telephony.record(session, first, window)
        summary = replace(
            first,
            kind=EventKind.summary,
            name="summary",
            answered_at=at + dt.timedelta(seconds=12) if talked else None,
            ended_at=at + dt.timedelta(seconds=12 + talked + 5),
            duration_s=talked,
        )
        await telephony.record(session, summary, window)
