"""The small demo data set that ``make run`` loads once: cities, directions, a team, the demo admin.

The demo admin's password is generated on first run and kept in ``DATA_DIR/demo-admin.txt`` (readable only by the
owner) so that later runs can print it again. The other demo accounts share ``DEMO_PASSWORD``.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import func, select

from leadflow.accounts.models import Role, User
from leadflow.accounts.policies import ClientInfo, Principal
from leadflow.accounts.schemas import MasterProfileIn, UserCreate
from leadflow.accounts.service import UserService
from leadflow.catalog import service as catalog
from leadflow.catalog.schemas import CityCreate, DirectionCreate, TransactionTypeCreate
from leadflow.platform.db import Database
from leadflow.platform.security import PasswordHasher
from leadflow.platform.settings import Settings

ADMIN_LOGIN = "admin"
DEMO_PASSWORD = "demo-Leadflow-2026"
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
MASTERS = [
    ("master.ivanov", "Иванов Пётр", 0, "+7 916 100-00-01"),
    ("master.petrov", "Петров Алексей", 0, "+7 916 100-00-02"),
    ("master.sidorov", "Сидоров Игорь", 1, "+7 921 100-00-03"),
    ("master.kuznetsov", "Кузнецов Олег", 2, "+7 843 100-00-04"),
]


def _credentials_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-admin.txt"


async def seed(settings: Settings) -> tuple[str, str, bool]:
    """Load the demo set unless the database already has users; return (admin login, password, created)."""
    database = Database(settings)
    hasher = PasswordHasher(settings.password_hash_cheap)
    users = UserService(hasher)
    path = _credentials_file(settings)
    try:
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
            for login, full_name, city_index, phone in MASTERS:
                await users.create_user(
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
            return ADMIN_LOGIN, password, True
    finally:
        await database.dispose()
