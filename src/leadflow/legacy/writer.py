"""Writing LeadSchem rows into Leadflow: reference data, accounts, campaigns (requests and the cash desk are in
``legacy/business.py``, files in ``legacy/media.py``).

THE ONE BULK-LOAD EXCEPTION (besides the demo loader, ``demo/large.py``): the importer writes the domains' tables
directly, with core ``INSERT … RETURNING`` statements in batches, instead of one service call per row. A hundred
thousand requests through ``requests.service`` would be a hundred thousand units of work. What the services would
check is checked here by the same rules (``legacy/rules.py`` calls ``requests.money``, ``platform.phones`` and the
status codes of ``requests.workflow``), and files go through ``files.service`` and the storage interface. Nothing
outside ``leadflow.legacy`` may copy this pattern.

Every imported row gets a line in ``legacy_import_map`` in the same transaction as the row itself, so the map and
the data can never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import MasterProfile, Role, User, UserCity
from leadflow.campaigns.models import Campaign
from leadflow.catalog.models import FIRST_TIME, REPEAT, City, Direction, RequestType, TransactionType
from leadflow.legacy import rules
from leadflow.legacy.models import LegacyImportMap
from leadflow.legacy.reader import LegacyReader
from leadflow.legacy.report import Report
from leadflow.platform.db import utcnow
from leadflow.platform.progress import Advance

Progress = Advance  # (table, rows just handled, rows planned for it): platform.progress draws it
# Legacy request-type names the Mango webhook looked up, and the Leadflow codes they are.
REQUEST_TYPE_CODES = {"впервые": FIRST_TIME, "повтор": REPEAT}
CITY_ROLES = frozenset({Role.director, Role.operator, Role.marketer})


@dataclass
class Context:
    """What one import run shares between the tables: the map loaded from ``legacy_import_map`` (legacy table →
    legacy id → Leadflow id), the report, the clock, and which table and legacy id it is at (for a failure)."""

    reader: LegacyReader
    report: Report
    progress: Progress
    now: dt.datetime = field(default_factory=utcnow)
    maps: dict[str, dict[int, str]] = field(default_factory=dict)
    table: str = ""
    legacy_id: int | None = None
    # Done requests imported in this run with a positive handover: Leadflow id → (legacy id, handover).
    handovers_due: dict[int, tuple[int, Decimal]] = field(default_factory=dict)

    def ids(self, legacy_table: str) -> dict[int, int]:
        return {k: int(v) for k, v in self.maps.get(legacy_table, {}).items()}

    def target(self, legacy_table: str, legacy_id: int | None) -> int | None:
        if legacy_id is None:
            return None
        value = self.maps.get(legacy_table, {}).get(legacy_id)
        return None if value is None else int(value)

    def at(self, table: str, legacy_id: int | None = None) -> None:
        self.table, self.legacy_id = table, legacy_id


async def load_maps(session: AsyncSession) -> dict[str, dict[int, str]]:
    maps: dict[str, dict[int, str]] = {}
    rows = await session.execute(
        select(LegacyImportMap.legacy_table, LegacyImportMap.legacy_id, LegacyImportMap.target_id)
    )
    for table, legacy_id, target in rows:
        maps.setdefault(table, {})[legacy_id] = target
    return maps


def table_of(model: Any) -> Table:
    """A model's core table (the bulk path writes tables, not ORM objects)."""
    table: Table = model.__table__
    return table


async def insert_returning_ids(session: AsyncSession, table: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (one shape) in one statement batch; their new ids, in the order of ``rows``."""
    if not rows:
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    result = await session.execute(statement, list(rows))
    return [int(i) for i in result.scalars()]


async def remember(ctx: Context, session: AsyncSession, legacy_table: str, pairs: Sequence[tuple[int, Any]]) -> None:
    """Record ``(legacy id, Leadflow id)`` pairs in the map table and in memory."""
    if not pairs:
        return
    rows = [
        {"legacy_table": legacy_table, "legacy_id": lid, "target_id": str(tid), "imported_at": ctx.now}
        for lid, tid in pairs
    ]
    await session.execute(insert(table_of(LegacyImportMap)), rows)
    known = ctx.maps.setdefault(legacy_table, {})
    for lid, tid in pairs:
        known[lid] = str(tid)


def created(ctx: Context, table: str, row: dict[str, Any], column: str = "created_at") -> dt.datetime:
    """A legacy creation moment, or now (noted) when it is missing or impossible."""
    value = row.get(column)
    try:
        rules.moment(value, column, ctx.now)
    except rules.Refusal as exc:
        ctx.report.note(table, row["id"], f"{exc}; the import time is used")
        return ctx.now
    if value is None:
        return ctx.now
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# Reference data ----------------------------------------------------------------------------------------------------
async def import_reference(ctx: Context, session: AsyncSession, legacy_table: str) -> None:
    """Cities, request types, directions, transaction types: a legacy row becomes the Leadflow row of the same name
    when there is one (or, for request types, the system type the old webhook meant), else a new row."""
    ctx.at(legacy_table)
    rows = await ctx.reader.all(legacy_table)
    count = ctx.report.table(legacy_table)
    count.read += len(rows)
    known = ctx.maps.get(legacy_table, {})
    model: Any = {
        "cities": City,
        "request_types": RequestType,
        "directions": Direction,
        "transaction_types": TransactionType,
    }[legacy_table]
    by_name = {name.lower(): rid for rid, name in await session.execute(select(model.id, model.name))}
    codes: dict[str, int] = {}
    if model is RequestType:
        codes = {code: rid for rid, code in await session.execute(select(RequestType.id, RequestType.code))}
    pairs: list[tuple[int, int]] = []
    for row in rows:
        ctx.at(legacy_table, row["id"])
        if row["id"] in known:
            count.already += 1
            continue
        name = rules.clip(row["name"], 100) or f"#{row['id']}"
        existing = by_name.get(name.lower())
        code = REQUEST_TYPE_CODES.get(name.lower()) if model is RequestType else None
        if code is not None:
            existing = codes.get(code)
        if existing is None:
            values: dict[str, Any] = {"name": name, "active": True, "created_at": ctx.now, "updated_at": ctx.now}
            if model is RequestType:
                values["code"] = code or f"legacy_{row['id']}"
            if model is TransactionType:
                kind, guessed = rules.type_kind(name)
                values.update(kind=kind, system=False)
                if guessed:
                    ctx.report.note(legacy_table, row["id"], f"type {name!r}: kind {kind} by guess (name says neither)")
            existing = (await insert_returning_ids(session, model.__table__, [values]))[0]
            by_name[name.lower()] = existing
        pairs.append((row["id"], existing))
        count.imported += 1
    await remember(ctx, session, legacy_table, pairs)
    ctx.progress(legacy_table, len(rows), len(rows))


# Accounts ----------------------------------------------------------------------------------------------------------
async def import_accounts(ctx: Context, session: AsyncSession, legacy_table: str) -> None:
    """One account table: each row a Leadflow user (bcrypt hash kept as it is; it is verified and upgraded to
    argon2id at the next sign-in). A login another account already has (across the three legacy tables, or an
    existing Leadflow user) gets a suffix, reported."""
    ctx.at(legacy_table)
    rows = await ctx.reader.all(legacy_table)
    count = ctx.report.table(legacy_table)
    count.read += len(rows)
    roles = {r["id"]: r["name"] for r in await ctx.reader.all("roles")}
    taken = {
        login.lower()
        for login in await session.scalars(select(func.lower(User.login)).where(User.deleted_at.is_(None)))
    }
    cities = ctx.ids("cities")
    known = ctx.maps.get(legacy_table, {})
    today = ctx.now.date()
    users: list[dict[str, Any]] = []
    extras: list[dict[str, Any]] = []  # per user: the legacy id and the profile or city of the row
    for row in rows:
        ctx.at(legacy_table, row["id"])
        if row["id"] in known:
            count.already += 1
            continue
        try:
            role = rules.map_role(legacy_table, roles.get(row.get("role_id")))
            profile: dict[str, Any] | None = None
            if role is Role.master:
                city = cities.get(row["city_id"])
                if city is None:
                    raise rules.Refusal(f"master in no imported city (city_id {row['city_id']})")
                born = rules.birth_date(row["birth_date"], today)
                if row["birth_date"] is not None and born is None:
                    ctx.report.note(legacy_table, row["id"], f"impossible birth date {row['birth_date']} dropped")
                profile = {
                    "city_id": city,
                    "phone": rules.phone(row["phone_number"], "phone"),
                    "birth_date": born,
                    "passport": rules.clip(row["passport"], 50),
                    "telegram_chat_id": rules.clip(row["chat_id"], 100),
                    "company_share": None,
                    "notes": row["notes"],
                    "created_at": ctx.now,
                    "updated_at": ctx.now,
                }
            login = rules.clip(row["login"], 90)
            if not login:
                raise rules.Refusal("no login")
        except rules.Refusal as exc:
            ctx.report.skip(legacy_table, row["id"], str(exc))
            continue
        new_login = rules.unique_login(login, legacy_table, taken)
        if new_login != login:
            ctx.report.login_clashes.append(
                {"table": legacy_table, "legacy_id": row["id"], "login": login, "imported_as": new_login}
            )
        created_at = created(ctx, legacy_table, row)
        users.append(
            {
                "login": new_login,
                "password_hash": row["password_hash"] or "!",  # "!" verifies nothing: no password, no sign-in
                "full_name": rules.clip(row.get("full_name") or row.get("name"), 200) or new_login,
                "role": role.value,
                "status": rules.account_status(row["status"]),
                "token_version": 0,
                "created_at": created_at,
                "updated_at": created_at,
            }
        )
        city_link = cities.get(row.get("city_id")) if role in CITY_ROLES else None  # type: ignore[arg-type]
        extras.append({"legacy_id": row["id"], "profile": profile, "city": city_link})
    ids = await insert_returning_ids(session, User.__table__, users)
    profiles = [{**e["profile"], "user_id": uid} for uid, e in zip(ids, extras, strict=True) if e["profile"]]
    links = [{"user_id": uid, "city_id": e["city"]} for uid, e in zip(ids, extras, strict=True) if e["city"]]
    if profiles:
        await session.execute(insert(table_of(MasterProfile)), profiles)
    if links:
        await session.execute(insert(table_of(UserCity)), links)
    await remember(ctx, session, legacy_table, [(e["legacy_id"], uid) for uid, e in zip(ids, extras, strict=True)])
    count.imported += len(ids)
    ctx.progress(legacy_table, len(rows), len(rows))


# Campaigns ---------------------------------------------------------------------------------------------------------
CHANNEL_WORDS = {"avito": "avito", "авито": "avito", "yandex": "yandex", "яндекс": "yandex", "google": "google"}


def channel_of(name: str) -> str | None:
    lowered = name.lower()
    return next((channel for word, channel in CHANNEL_WORDS.items() if word in lowered), None)


async def import_campaigns(ctx: Context, session: AsyncSession) -> None:
    """Campaigns with their tracking numbers normalized. Several campaigns on one number: the newest stays active
    (Leadflow routes a number to one active campaign), the others are imported inactive, reported. A number an
    active Leadflow campaign already holds keeps that one; the imported ones are inactive."""
    table = "advertising_campaigns"
    ctx.at(table)
    rows = await ctx.reader.all(table)
    count = ctx.report.table(table)
    count.read += len(rows)
    known = ctx.maps.get(table, {})
    cities = ctx.ids("cities")
    fresh: list[tuple[dict[str, Any], str]] = []
    for row in rows:
        ctx.at(table, row["id"])
        if row["id"] in known:
            count.already += 1
            continue
        try:
            city = cities.get(row["city_id"])
            if city is None:
                raise rules.Refusal(f"campaign in no imported city (city_id {row['city_id']})")
            fresh.append((row, rules.phone(row["phone_number"], "tracking number")))
        except rules.Refusal as exc:
            ctx.report.skip(table, row["id"], str(exc))
    phones = {p for _, p in fresh}
    held = set(
        await session.scalars(
            select(Campaign.phone).where(Campaign.phone.in_(phones), Campaign.active, Campaign.deleted_at.is_(None))
        )
    )
    groups: dict[str, list[dict[str, Any]]] = {}
    for row, number in fresh:
        groups.setdefault(number, []).append(row)
    newest = {
        number: max(group, key=lambda r: (r["created_at"] or dt.datetime.min.replace(tzinfo=dt.UTC), r["id"]))["id"]
        for number, group in groups.items()
    }
    for number, group in groups.items():
        if len(group) > 1 or number in held:
            ctx.report.campaign_phone_clashes.append(
                {
                    "phone": number,
                    "active_legacy_id": None if number in held else newest[number],
                    "inactive_legacy_ids": [r["id"] for r in group if number in held or r["id"] != newest[number]],
                    "note": "an active Leadflow campaign already has this number" if number in held else "",
                }
            )
    values = []
    for row, number in fresh:
        created_at = created(ctx, table, row)
        values.append(
            {
                "city_id": cities[row["city_id"]],
                "name": rules.clip(row["name"], 200) or f"#{row['id']}",
                "channel": channel_of(row["name"] or ""),
                "phone": number,
                "active": number not in held and newest[number] == row["id"],
                "created_at": created_at,
                "updated_at": created_at,
            }
        )
    ids = await insert_returning_ids(session, Campaign.__table__, values)
    await remember(ctx, session, table, [(row["id"], cid) for (row, _), cid in zip(fresh, ids, strict=True)])
    count.imported += len(ids)
    ctx.progress(table, len(rows), len(rows))


async def master_shares(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, Decimal | None]:
    rows = await session.execute(
        select(MasterProfile.user_id, MasterProfile.company_share).where(MasterProfile.user_id.in_(user_ids))
    )
    return dict(rows.tuples().all())
