"""`leadflow import-leadschem` end to end: a LeadSchem database with awkward data, imported by the real command into
the test database (SQLite or PostgreSQL), then read back through the API."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text

from leadflow.accounts.models import MasterProfile, User, UserCity
from leadflow.campaigns.models import Campaign
from leadflow.catalog.models import RequestType
from leadflow.legacy import importer
from leadflow.legacy.models import LegacyImportMap
from leadflow.legacy.reader import LegacyReader
from leadflow.models import metadata
from leadflow.requests.models import Request, RequestEvent
from tests.cli.servers import cli_env, run_cli
from tests.conftest import Harness
from tests.legacy.support import (
    LEGACY_PASSWORD,
    bcrypt_hash,
    create_legacy_database,
    drop_legacy_database,
    execute,
    png_bytes,
)

pytestmark = pytest.mark.slow

NOV = "2026-11-{:02d} 10:00:00+03"


async def fill(conn: asyncpg.Connection) -> None:
    hashed = bcrypt_hash(LEGACY_PASSWORD)
    await conn.execute(
        """
        INSERT INTO cities (id, name) VALUES (1, 'Москва'), (2, 'Казань');
        INSERT INTO request_types (id, name) VALUES (1, 'Впервые'), (2, 'Повтор'), (3, 'Гарантия');
        INSERT INTO directions (id, name) VALUES (1, 'Стиральные машины');
        INSERT INTO roles (id, name) VALUES (1, 'admin'), (2, 'director'), (3, 'manager'), (4, 'callcentr'),
            (5, 'avitolog'), (6, 'callcenter');
        INSERT INTO transaction_types (id, name) VALUES (1, 'Приход'), (2, 'Расход'), (3, 'Прочее');
        """
    )
    await conn.executemany(
        "INSERT INTO administrators (id, name, role_id, status, login, password_hash) VALUES ($1, $2, 1, $3, $4, $5)",
        [(1, "Главный", "active", "boss", hashed)],
    )
    await conn.executemany(
        "INSERT INTO employees (id, name, role_id, status, city_id, login, password_hash) "
        "VALUES ($1, $2, $3, 'active', $4, $5, $6)",
        [
            (1, "Иван Директор", 2, 1, "ivan", hashed),
            (2, "Ольга Оператор", 4, 1, "olga", hashed),
            (3, "Борис Авитолог", 5, None, "boss", hashed),  # the administrator's login, in another table
        ],
    )
    await conn.executemany(
        "INSERT INTO masters (id, city_id, full_name, phone_number, birth_date, status, login, password_hash) "
        "VALUES ($1, $2, $3, $4, $5::text::date, 'active', $6, $7)",
        [
            (1, 1, "Пётр Мастер", "+7 (916) 123-45-67", None, "petr", hashed),
            (2, 2, "Иван Мастер", "8 916 222 33 44", "1850-01-01", "ivan", hashed),  # the director's login
        ],
    )
    await conn.execute(
        """
        INSERT INTO advertising_campaigns (id, city_id, name, phone_number, created_at) VALUES
            (1, 1, 'Авито стиральные', '+7 (495) 111-22-33', '2024-01-01'),
            (2, 1, 'Листовки', '8 495 111 22 33', '2025-01-01'),
            (3, 2, 'Яндекс Казань', '84951112244', '2025-02-01');
        """
    )
    requests = [
        # id, city, type, campaign, phone, status, master, result, expenses, net, handover, created, updated, extras
        (1, 1, 1, 1, "+7 (916) 555-00-01", "Готово", 1, "5000", "1000", "4000", "2000", 3, 10, {}),
        (2, 1, 2, 2, "+7 (916) 555-00-02", "Готово", 1, "3001", "0", "3000", "1500", 4, 11, {}),
        (3, 2, 1, 3, "8 (916) 555-00-03", "completed", 2, "1000", None, "1000", "500", 5, 12, {}),
        (4, 1, 3, None, "9165550004", "in_progress", 1, None, "0", "0", "0", 6, None, {}),
        (5, 1, 1, None, "+79165550005", "Ожидает Принятия", 1, None, "0", "0", "0", 7, None, {}),
        (6, 1, 1, None, "+79165550006", "НеЗаказ", None, None, "0", "0", "0", 8, None, {}),
        (7, 1, 1, None, "+79165550007", "archived", None, None, "0", "0", "0", 9, None, {}),
        (8, 99, 1, None, "+79165550008", "Новая", None, None, "0", "0", "0", 10, None, {}),  # no city
        (9, 1, 1, None, "+79165550009", "Новая", None, None, "0", "0", "0", 11, None, {"meeting": "2999-01-01"}),
        (10, 1, 1, None, "+79165550010", "ТНО", None, None, "0", "0", "0", 12, None, {"operator": "Ольга Оператор"}),
        (11, 1, 1, None, "+79165550011", "pending", None, None, "0", "0", "0", 13, None, {}),
        (12, 1, 1, None, "8 (916) 777-88-99", "Новая", None, None, "0", "0", "0", 14, None, {}),
    ]
    await conn.execute("SET session_replication_role = replica")  # rows that broke the old references too
    for rid, city, rtype, campaign, phone, status, master, result, expenses, net, handover, c, u, extra in requests:
        await conn.execute(
            "INSERT INTO requests (id, city_id, request_type_id, advertising_campaign_id, client_phone, status, "
            "master_id, result, expenses, net_amount, master_handover, created_at, updated_at, meeting_date, "
            "call_center_name, bso_file_path, expense_file_path, recording_file_path) VALUES ($1, $2, $3, $4, $5, "
            "$6, $7, $8::text::numeric, $9::text::numeric, $10::text::numeric, $11::text::numeric, "
            "$12::text::timestamptz, $13::text::timestamptz, $14::text::timestamptz, $15, $16, $17, $18)",
            rid,
            city,
            rtype,
            campaign,
            phone,
            status,
            master,
            result,
            expenses,
            net,
            handover,
            NOV.format(c),
            NOV.format(u) if u else None,
            extra.get("meeting"),
            extra.get("operator"),
            "/app/media/bso/r1.png" if rid == 1 else None,
            "expense/r2.jpg" if rid == 2 else None,
            {1: "recordings/r1.mp3", 3: "/var/www/media/recordings/r3.mp3"}.get(rid),
        )
    await conn.execute(
        """
        INSERT INTO transactions (id, city_id, transaction_type_id, amount, notes, specified_date, created_at) VALUES
            (1, 1, 1, 2000, 'Приход по заявке 1', '2026-11-10', '2026-11-10 12:00+03'),
            (2, 1, 2, -500, 'Бензин', '2026-11-11', '2026-11-11 12:00+03'),
            (3, 1, 1, 1500, 'Приход по заявке 2', '2026-11-11', '2026-11-11 13:00+03'),
            (4, 1, 99, 100, 'тип удалён', '2026-11-12', '2026-11-12 12:00+03'),
            (5, 1, 3, -100, 'Прочее со знаком минус', '2026-11-12', '2026-11-12 12:00+03'),
            (6, 1, 1, 700, 'Дата с опечаткой', '1900-01-01', '2026-11-12 12:00+03'),
            (7, 2, 2, -300, 'Казань, запчасти', '2026-11-13', '2026-11-13 12:00+03');
        """
    )
    await conn.execute(
        "INSERT INTO files (request_id, transaction_id, file_type, file_path) VALUES (NULL, 2, 'expense_receipt', "
        "'uploads/receipts/t2.png'), (NULL, 4, 'expense_receipt', 'uploads/receipts/t4.png')"
    )
    await conn.execute("SET session_replication_role = origin")
    for table in ("cities", "requests", "transactions", "masters", "employees", "advertising_campaigns"):
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


@pytest.fixture(scope="module")
def legacy_url() -> Iterator[str]:
    url = create_legacy_database(fill)
    yield url
    drop_legacy_database(url)


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    (root / "bso").mkdir(parents=True)
    (root / "bso" / "r1.png").write_bytes(png_bytes())
    (root / "recordings").mkdir()
    (root / "recordings" / "r3.mp3").write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 64)
    (root / "receipts").mkdir()
    (root / "receipts" / "t2.png").write_bytes(png_bytes())
    return root


async def digest(h: Harness) -> tuple[dict[str, int], str]:
    """Row counts of every table and a digest of their content: equal before and after a run that changes nothing."""
    counts: dict[str, int] = {}
    sha = hashlib.sha256()
    async with h.database.session() as session:
        for table in metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            counts[table.name] = len(rows)
            for row in sorted(repr(tuple(r)) for r in rows):
                sha.update(row.encode())
    return counts, sha.hexdigest()


def import_cli(h: Harness, legacy_url: str, *extra: str) -> tuple[Any, dict[str, Any]]:
    report_path = h.settings.data_dir / f"report-{len(list(h.settings.data_dir.glob('report-*')))}.json"
    env = cli_env(h.settings.database_url, h.settings.data_dir)
    result = run_cli(["import-leadschem", "--from", legacy_url, "--report", str(report_path), *extra], env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, json.loads(report_path.read_text(encoding="utf-8"))


async def test_import_twice_report_and_api(h: Harness, legacy_url: str, media: Path) -> None:
    first, report = import_cli(h, legacy_url, "--media", str(media))
    assert "LeadSchem import" in first.stdout and "report written to" in first.stdout

    # Counts per table.
    tables = report["tables"]
    assert tables["requests"] == {"read": 12, "imported": 10, "already": 0, "skipped": 2}
    assert tables["transactions"] == {"read": 7, "imported": 5, "already": 0, "skipped": 2}
    assert tables["masters"]["imported"] == 2 and tables["employees"]["imported"] == 3
    assert tables["files"] == {"read": 6, "imported": 3, "already": 0, "skipped": 1}
    # Every oddity is listed.
    skipped = {(s["table"], s["legacy_id"]): s["reason"] for s in report["skipped"]}
    assert "no imported city" in skipped[("requests", 8)]
    assert "impossible meeting_date" in skipped[("requests", 9)]
    assert "no imported type" in skipped[("transactions", 4)]
    assert "impossible specified_date" in skipped[("transactions", 6)]
    assert "of no imported owner" in skipped[("files", 2)]  # its transaction (no type) was skipped
    clashes = {(c["table"], c["login"]): c["imported_as"] for c in report["login_clashes"]}
    assert clashes == {("employees", "boss"): "boss-staff", ("masters", "ivan"): "ivan-master"}
    guessed = {m["value"]: m["code"] for m in report["status_mappings"] if m["guessed"]}
    assert guessed == {"completed": "done", "НеЗаказ": "refused", "archived": "refused", "pending": "awaiting_dispatch"}
    exact = {m["value"]: m["code"] for m in report["status_mappings"] if not m["guessed"]}
    assert exact["Ожидает Принятия"] == "awaiting_acceptance" and exact["in_progress"] == "in_progress"
    differences = {(d["legacy_id"], d["field"]): (d["legacy"], d["recomputed"]) for d in report["money_differences"]}
    assert differences == {(2, "net_amount"): ("3000.00", "3001.00"), (2, "master_handover"): ("1500.00", "1500.50")}
    assert report["campaign_phone_clashes"] == [
        {"phone": "74951112233", "active_legacy_id": 2, "inactive_legacy_ids": [1], "note": ""}
    ]
    links = {link["legacy_request_id"]: link for link in report["handovers_linked"]}
    assert set(links) == {1, 2} and links[1]["agrees"] is True and links[2]["agrees"] is False
    assert [(d["legacy_id"], d["handover"]) for d in report["done_without_handover"]] == [(3, "500.00")]
    missing = {(m["table"], m["legacy_id"]) for m in report["files_missing"]}
    assert missing == {("requests.recording_file_path", 1), ("requests.expense_file_path", 2)}
    assert report["stopped"] is None and report["dry_run"] is False

    # A second run changes nothing.
    before = await digest(h)
    _second, again = import_cli(h, legacy_url, "--media", str(media))
    assert await digest(h) == before
    assert again["tables"]["requests"] == {"read": 12, "imported": 0, "already": 10, "skipped": 2}
    assert again["tables"]["transactions"]["imported"] == 0
    assert again["tables"]["files"] == {"read": 6, "imported": 0, "already": 3, "skipped": 1}

    # What was imported, row by row.
    async with h.database.session() as session:
        users = {u.login: u for u in await session.scalars(select(User))}
        assert users["boss"].role == "admin" and users["boss-staff"].role == "marketer"
        assert users["ivan"].role == "director" and users["ivan-master"].role == "master"
        assert users["olga"].role == "operator"
        assert users["petr"].password_hash.startswith("$2b$")  # kept as it was
        profile = await session.get(MasterProfile, users["petr"].id)
        assert profile is not None and profile.phone == "79161234567"
        assert (await session.get(MasterProfile, users["ivan-master"].id)).birth_date is None  # type: ignore[union-attr]
        director_cities = list(
            await session.scalars(select(UserCity.city_id).where(UserCity.user_id == users["ivan"].id))
        )
        assert len(director_cities) == 1
        campaigns = {c.name: c for c in await session.scalars(select(Campaign))}
        assert campaigns["Листовки"].active and not campaigns["Авито стиральные"].active
        assert campaigns["Авито стиральные"].channel == "avito" and campaigns["Яндекс Казань"].phone == "74951112244"
        ids = {
            int(m.legacy_id): int(m.target_id)
            for m in await session.scalars(select(LegacyImportMap).where(LegacyImportMap.legacy_table == "requests"))
        }
        operator_request = await session.get(Request, ids[10])
        assert operator_request is not None and operator_request.operator_id == users["olga"].id
        assert (await session.get(Request, ids[12])).client_phone == "79167778899"  # type: ignore[union-attr]
        guarantee = await session.scalar(select(RequestType).where(RequestType.name == "Гарантия"))
        assert guarantee is not None and guarantee.code == "legacy_3"
        events = list(await session.scalars(select(RequestEvent).where(RequestEvent.kind == "imported")))
        assert len(events) == 10 and {e.data["legacy_id"] for e in events if e.data} == set(ids)  # type: ignore[index]

    # The API shows the imported data with the right figures.
    admin = await h.as_user(users["boss"], LEGACY_PASSWORD)
    done = (await admin.get(f"/api/v1/requests/{ids[2]}")).json()
    assert done["status"] == "done" and done["result"] == "3001.00"
    assert done["net_amount"] == "3001.00" and done["master_handover"] == "1500.50"
    assert done["client_phone"] == "79165550002" and done["master_id"] == users["petr"].id
    assert [f["kind"] for f in (await admin.get(f"/api/v1/requests/{ids[1]}")).json()["files"]] == ["bso"]
    recorded = (await admin.get(f"/api/v1/requests/{ids[3]}")).json()["recordings"]
    assert [(r["source"], r["link_state"], r["file"]["kind"]) for r in recorded] == [("upload", "linked", "recording")]
    async with h.database.session() as session:
        receipt_tx = await session.scalar(
            select(LegacyImportMap.target_id).where(
                LegacyImportMap.legacy_table == "transactions", LegacyImportMap.legacy_id == 2
            )
        )
    receipts = (await admin.get(f"/api/v1/transactions/{receipt_tx}")).json()["files"]
    assert [(f["kind"], f["original_name"]) for f in receipts] == [("transaction_receipt", "t2.png")]
    assert (await admin.get(f"/api/v1/requests/{ids[6]}")).json()["status"] == "refused"
    history = (await admin.get(f"/api/v1/requests/{ids[3]}/events")).json()
    assert any(e["kind"] == "imported" and e["data"]["legacy_status"] == "completed" for e in history["items"])
    balance = (
        await admin.get("/api/v1/cash/balance", params={"date_from": "2026-11-01", "date_to": "2026-11-30"})
    ).json()
    assert balance["totals"]["income"] == "3500.00" and balance["totals"]["expense"] == "900.00"
    cities = (
        await admin.get("/api/v1/reports/cities", params={"date_from": "2026-11-01", "date_to": "2026-11-30"})
    ).json()
    by_city = {item["city_name"]: item for item in cities["items"]}
    assert by_city["Москва"]["revenue"] == "8001.00" and by_city["Москва"]["handover"] == "3500.50"
    assert by_city["Казань"]["revenue"] == "1000.00" and by_city["Казань"]["done"] == 1
    handover = (await admin.get("/api/v1/transactions", params={"request_id": ids[1]})).json()["items"]
    assert [(t["amount"], t["kind"]) for t in handover] == [("2000.00", "income")]

    # A bcrypt account signs in, and its hash is upgraded to argon2id.
    await h.token("petr", LEGACY_PASSWORD)
    async with h.database.session() as session:
        upgraded = await session.scalar(select(User.password_hash).where(User.login == "petr"))
        assert upgraded is not None and upgraded.startswith("$argon2id$")

    # A later run brings only what is new.
    await execute(
        legacy_url,
        "INSERT INTO requests (id, city_id, request_type_id, client_phone, status, created_at) "
        "VALUES (13, 2, 2, '+7 916 555-00-13', 'Перезвонить', '2026-11-20 10:00+03')",
    )
    try:
        _third, later = import_cli(h, legacy_url)
    finally:
        await execute(legacy_url, "DELETE FROM requests WHERE id = 13")
    assert later["tables"]["requests"] == {"read": 13, "imported": 1, "already": 10, "skipped": 2}
    assert later["tables"]["masters"] == {"read": 2, "imported": 0, "already": 2, "skipped": 0}
    async with h.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Request)) == 11


async def test_dry_run_keeps_nothing(h: Harness, legacy_url: str, media: Path) -> None:
    before = await digest(h)
    result, report = import_cli(h, legacy_url, "--media", str(media), "--dry-run")
    assert "dry run" in result.stdout
    assert report["dry_run"] is True and report["tables"]["requests"]["imported"] == 10
    assert report["tables"]["files"]["imported"] == 3  # found, not stored
    assert await digest(h) == before
    stored = h.settings.data_dir / "files"
    assert not stored.exists() or not [p for p in stored.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("postgresql://postgres@127.0.0.1:1/leadschem", "error: cannot connect to 127.0.0.1:1/leadschem"),
        ("postgresql://postgres@127.0.0.1:5432/postgres", "is not a LeadSchem database (missing: cities"),
        ("mysql://root@127.0.0.1/leadschem", "error: --from must be a postgresql:// URL"),
    ],
)
async def test_bad_source_is_one_line_and_exit_1(h: Harness, source: str, expected: str) -> None:
    before = await digest(h)
    env = cli_env(h.settings.database_url, h.settings.data_dir)
    result = run_cli(["import-leadschem", "--from", source], env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert await digest(h) == before


async def test_a_failing_table_stops_there_and_keeps_the_earlier_ones(h: Harness, legacy_url: str) -> None:
    # A Leadflow request type already holds the code the legacy type 3 would get: its insert fails.
    async with h.database.session() as session:
        session.add(RequestType(code="legacy_3", name="Занято", active=True))
        await session.commit()
    async with h.database.session() as session:
        before = await session.scalar(select(func.count()).select_from(RequestType))
    reader = await LegacyReader.open(legacy_url)
    try:
        report = await importer.run(h.settings, h.database, h.app.state.storage, reader)
    finally:
        await reader.close()
    assert report.stopped is not None
    assert report.stopped["table"] == "request_types" and report.stopped["legacy_id"] == 3
    assert "IntegrityError" in report.stopped["error"]
    async with h.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(RequestType)) == before  # rolled back
        mapped = set(await session.scalars(select(LegacyImportMap.legacy_table)))
        assert mapped == {"cities"}  # the table before it is imported
        assert await session.scalar(select(func.count()).select_from(Request)) == 0
        assert await session.scalar(text("SELECT count(*) FROM cities")) == 2
    assert report.tables["cities"].imported == 2 and "requests" not in report.tables
