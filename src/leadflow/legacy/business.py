"""Requests and cash-desk transactions of a LeadSchem database, in batches (part of the importer's one bulk-load
exception; see ``legacy/writer.py``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import Role, User
from leadflow.cash.models import Transaction
from leadflow.catalog.models import FIRST_TIME, MASTER_HANDOVER, RequestType, TransactionType
from leadflow.legacy import rules
from leadflow.legacy.writer import Context, created, insert_returning_ids, master_shares, remember, table_of
from leadflow.requests.models import Request, RequestEvent
from leadflow.requests.workflow import Status

IMPORTED = "imported"  # the request event that marks a request brought in by the importer
# Statuses in which Leadflow's requests have a master (SPEC §3.2).
WITH_MASTER = frozenset(
    {Status.awaiting_acceptance, Status.accepted, Status.en_route, Status.in_progress, Status.deferred, Status.done}
)


# Requests ----------------------------------------------------------------------------------------------------------
async def import_requests(ctx: Context, session: AsyncSession, default_share: Decimal) -> None:
    """Requests with their statuses mapped, phones normalized and money recomputed by our rule; each gets one
    ``imported`` event carrying its legacy id and status. Rows that break a rule are skipped and listed."""
    table = "requests"
    ctx.at(table)
    count = ctx.report.table(table)
    planned = await ctx.reader.count(table)
    known = ctx.maps.setdefault(table, {})
    cities, campaigns = ctx.ids("cities"), ctx.ids("advertising_campaigns")
    types, directions, masters = ctx.ids("request_types"), ctx.ids("directions"), ctx.ids("masters")
    shares = await master_shares(session, list(masters.values()))
    first_time = await session.scalar(select(RequestType.id).where(RequestType.code == FIRST_TIME))
    operators = {
        name.lower(): uid
        for uid, name in await session.execute(
            select(User.id, User.full_name).where(
                User.role.in_([Role.operator, Role.director, Role.admin]), User.deleted_at.is_(None)
            )
        )
    }
    async for batch in ctx.reader.batches(table):
        count.read += len(batch)
        rows: list[dict[str, Any]] = []
        legacy: list[tuple[int, str | None]] = []
        for row in batch:
            ctx.at(table, row["id"])
            if row["id"] in known:
                count.already += 1
                continue
            try:
                values = _request(ctx, row, cities, campaigns, types, directions, masters, operators, first_time)
                master = values["master_id"]
                share = shares.get(master) if master is not None else None
                done = values["status"] == Status.done
                figures = rules.request_money(
                    row["result"],
                    row["expenses"],
                    row["net_amount"],
                    row["master_handover"],
                    share or default_share,
                    done,
                )
            except rules.Refusal as exc:
                ctx.report.skip(table, row["id"], str(exc))
                continue
            for name, (stored, ours) in figures.differences.items():
                ctx.report.money_differences.append(
                    {"legacy_id": row["id"], "field": name, "legacy": stored, "recomputed": ours}
                )
            values.update(
                result=figures.result,
                expenses=figures.expenses,
                net_amount=figures.net_amount,
                master_handover=figures.master_handover,
                company_share=figures.company_share,
            )
            rows.append(values)
            legacy.append((row["id"], row["status"]))
        ids = await insert_returning_ids(session, Request.__table__, rows)
        events = [
            {
                "request_id": rid,
                "at": ctx.now,
                "actor_id": None,
                "kind": IMPORTED,
                "from_status": None,
                "to_status": values["status"],
                "data": {"source": "leadschem", "legacy_id": lid, "legacy_status": status},
            }
            for rid, values, (lid, status) in zip(ids, rows, legacy, strict=True)
        ]
        if events:
            await session.execute(insert(table_of(RequestEvent)), events)
        await remember(ctx, session, table, [(lid, rid) for rid, (lid, _) in zip(ids, legacy, strict=True)])
        for rid, values, (lid, _status) in zip(ids, rows, legacy, strict=True):
            if values["status"] == Status.done and (values["master_handover"] or 0) > 0:
                ctx.handovers_due[rid] = (lid, values["master_handover"])
        count.imported += len(ids)
        ctx.progress(table, len(batch), planned)


def _request(
    ctx: Context,
    row: dict[str, Any],
    cities: dict[int, int],
    campaigns: dict[int, int],
    types: dict[int, int],
    directions: dict[int, int],
    masters: dict[int, int],
    operators: dict[str, int],
    first_time: int | None,
) -> dict[str, Any]:
    """One legacy request as the values of a Leadflow row (money aside); a :class:`rules.Refusal` if it breaks a
    rule."""
    lid = row["id"]
    city = cities.get(row["city_id"])
    if city is None:
        raise rules.Refusal(f"request in no imported city (city_id {row['city_id']})")
    rules.moment(row["created_at"], "created_at", ctx.now)
    rules.moment(row["updated_at"], "updated_at", ctx.now)
    rules.moment(row["meeting_date"], "meeting_date", ctx.now, rules.VISIT_HORIZON)
    mapping = rules.map_status(row["status"], row["result"] is not None)
    ctx.report.status(row["status"], mapping.status.value, mapping.guessed)
    client_phone = rules.phone(row["client_phone"], "client phone")
    request_type = types.get(row["request_type_id"])
    if request_type is None:
        request_type = first_time
        ctx.report.note("requests", lid, f"request type {row['request_type_id']} unknown: first_time used")
    master = masters.get(row["master_id"]) if row["master_id"] is not None else None
    if row["master_id"] is not None and master is None:
        ctx.report.note("requests", lid, f"master {row['master_id']} was not imported: no master")
    campaign = campaigns.get(row["advertising_campaign_id"]) if row["advertising_campaign_id"] is not None else None
    if row["advertising_campaign_id"] is not None and campaign is None:
        ctx.report.note("requests", lid, f"campaign {row['advertising_campaign_id']} was not imported: no campaign")
    notes = row["call_center_notes"]
    operator_name = rules.clip(row["call_center_name"], 200)
    operator = operators.get(operator_name.lower()) if operator_name else None
    extra = [f"Оператор: {operator_name}"] if operator_name and operator is None else []
    if row["avito_chat_id"]:
        extra.append(f"Avito chat: {row['avito_chat_id']}")
    if extra:
        notes = "\n".join([*extra, *([notes] if notes else [])])
    try:
        ats = rules.phone(row["ats_number"], "line") if row["ats_number"] else None
    except rules.Refusal:
        ats = rules.clip(row["ats_number"], 20)
    created_at = created(ctx, "requests", row)
    changed = row["updated_at"] or created_at
    status = mapping.status
    if status in WITH_MASTER and master is None:
        ctx.report.note("requests", lid, f"status {status.value} without a master: assign one in Leadflow")
    if status is Status.done and row["result"] is None:
        ctx.report.note("requests", lid, "done without a result: no money")
    return {
        "status": status.value,
        "source": "manual",
        "city_id": city,
        "campaign_id": campaign,
        "request_type_id": request_type,
        "direction_id": directions.get(row["direction_id"]) if row["direction_id"] is not None else None,
        "client_phone": client_phone,
        "client_name": rules.clip(row["client_name"], 200),
        "address": rules.clip(row["address"], 500),
        "visit_at": row["meeting_date"],
        "problem": row["problem"],
        "master_id": master,
        "was_assigned": master is not None,
        "master_notes": row["master_notes"],
        "ats_number": ats,
        "operator_id": operator,
        "call_center_notes": notes,
        "callback_at": None,
        "entry_id": None,
        "version": 1,
        "created_at": created_at,
        "updated_at": changed,
        "status_changed_at": changed,
        "completed_at": changed if status is Status.done else None,
    }


# Transactions ------------------------------------------------------------------------------------------------------
async def import_transactions(ctx: Context, session: AsyncSession) -> None:
    """Cash-desk operations: the sign of the legacy amount becomes the kind (a negative amount is a positive expense);
    a legacy type used with the other sign gets a companion type of that kind. An income whose notes read
    ``Приход по заявке <id>`` becomes that request's handover (the system type, linked to the request and its
    master), when the request was imported and has no handover yet."""
    table = "transactions"
    ctx.at(table)
    count = ctx.report.table(table)
    planned = await ctx.reader.count(table)
    known = ctx.maps.setdefault(table, {})
    cities, requests = ctx.ids("cities"), ctx.ids("requests")
    types = {
        tid: (name, kind)
        for tid, name, kind in await session.execute(
            select(TransactionType.id, TransactionType.name, TransactionType.kind)
        )
    }
    handover_type = await session.scalar(select(TransactionType.id).where(TransactionType.code == MASTER_HANDOVER))
    linked = set(
        await session.scalars(
            select(Transaction.request_id).where(Transaction.request_id.is_not(None), Transaction.deleted_at.is_(None))
        )
    )
    async for batch in ctx.reader.batches(table):
        count.read += len(batch)
        wanted = {rules.handover_request(r["notes"]) for r in batch} - {None}
        targets = [requests[w] for w in wanted if w is not None and w in requests]
        request_rows = {
            rid: (master, handover, city)
            for rid, master, handover, city in await session.execute(
                select(Request.id, Request.master_id, Request.master_handover, Request.city_id).where(
                    Request.id.in_(targets)
                )
            )
        }
        rows: list[dict[str, Any]] = []
        legacy: list[int] = []
        for row in batch:
            ctx.at(table, row["id"])
            if row["id"] in known:
                count.already += 1
                continue
            try:
                values = await _transaction(ctx, session, row, cities, types)
            except rules.Refusal as exc:
                ctx.report.skip(table, row["id"], str(exc))
                continue
            legacy_request = rules.handover_request(row["notes"]) if values["_kind"] == "income" else None
            request = requests.get(legacy_request) if legacy_request is not None else None
            if request is not None and request in request_rows and request not in linked:
                master, handover, _city = request_rows[request]
                values.update(request_id=request, master_id=master, type_id=handover_type)
                linked.add(request)
                ctx.report.handovers_linked.append(
                    {
                        "legacy_id": row["id"],
                        "legacy_request_id": legacy_request,
                        "request_id": request,
                        "amount": values["amount"],
                        "request_handover": handover,
                        "agrees": handover == values["amount"],
                    }
                )
            elif legacy_request is not None:
                why = "already has a handover" if request in linked else "was not imported"
                ctx.report.note(table, row["id"], f"'Приход по заявке {legacy_request}': the request {why}; not linked")
            values.pop("_kind")
            rows.append(values)
            legacy.append(row["id"])
        ids = await insert_returning_ids(session, Transaction.__table__, rows)
        await remember(ctx, session, table, list(zip(legacy, ids, strict=True)))
        count.imported += len(ids)
        ctx.progress(table, len(batch), planned)
    ctx.report.done_without_handover = [
        {"legacy_id": lid, "request_id": rid, "handover": handover}
        for rid, (lid, handover) in sorted(ctx.handovers_due.items())
        if rid not in linked
    ]


async def _transaction(
    ctx: Context,
    session: AsyncSession,
    row: dict[str, Any],
    cities: dict[int, int],
    types: dict[int, tuple[str, str]],
) -> dict[str, Any]:
    city = cities.get(row["city_id"])
    if city is None:
        raise rules.Refusal(f"transaction in no imported city (city_id {row['city_id']})")
    type_id = ctx.target("transaction_types", row["transaction_type_id"])
    if type_id is None or type_id not in types:
        raise rules.Refusal(f"transaction of no imported type (type_id {row['transaction_type_id']})")
    if row["amount"] is None:
        raise rules.Refusal("no amount")
    kind, amount = rules.signed_amount(row["amount"])
    rules.day(row["specified_date"], "specified_date", ctx.now.date())
    if row["specified_date"] is None:
        raise rules.Refusal("no specified_date")
    if types[type_id][1] != kind:
        type_id = await _companion(ctx, session, row["transaction_type_id"], type_id, kind, types)
    moment = row["created_at"] or dt.datetime.combine(row["specified_date"], dt.time(12), dt.UTC)
    try:
        rules.moment(moment, "created_at", ctx.now)
    except rules.Refusal:
        moment = dt.datetime.combine(row["specified_date"], dt.time(12), dt.UTC)
    return {
        "city_id": city,
        "type_id": type_id,
        "amount": amount,
        "occurred_on": row["specified_date"],
        "payment_reason": rules.clip(row["payment_reason"], 500),
        "notes": row["notes"],
        "request_id": None,
        "campaign_id": None,
        "master_id": None,
        "created_by_id": None,
        "version": 1,
        "created_at": moment,
        "updated_at": moment,
        "_kind": kind,
    }


async def _companion(
    ctx: Context, session: AsyncSession, legacy_type: int, type_id: int, kind: str, types: dict[int, tuple[str, str]]
) -> int:
    """The type of the other kind for a legacy type used with both signs: ``<name> (расход)`` or ``(приход)``,
    created once and remembered as ``transaction_types:<kind>``."""
    key = f"transaction_types:{kind}"
    known = ctx.target(key, legacy_type)
    if known is not None:
        return known
    name = f"{types[type_id][0][:85]} ({'расход' if kind == 'expense' else 'приход'})"
    existing = await session.scalar(select(TransactionType.id).where(func.lower(TransactionType.name) == name.lower()))
    if existing is None:
        values = {
            "name": name,
            "kind": kind,
            "system": False,
            "active": True,
            "created_at": ctx.now,
            "updated_at": ctx.now,
        }
        existing = (await insert_returning_ids(session, TransactionType.__table__, [values]))[0]
        ctx.report.note("transaction_types", legacy_type, f"used with both signs: {name!r} ({kind}) added")
    types[existing] = (name, kind)
    await remember(ctx, session, key, [(legacy_type, existing)])
    return existing
