"""Time `leadflow import-leadschem` on a large LeadSchem database (SPEC §12; issue 16: 100 000 requests in minutes).

Builds a LeadSchem database from tests/legacy/leadschem.sql on PostgreSQL with generated data (20 cities, 300
masters, 50 campaigns, N requests with Russian and English statuses, formatted phones and legacy money, N/2 cash-desk
rows with signed amounts and `Приход по заявке <id>` handovers), migrates a fresh Leadflow database beside it, and
runs the real command against them twice (the second run must import nothing):

    uv run python bench/import_leadschem.py --requests 100000
    uv run python bench/import_leadschem.py --server postgresql://postgres@127.0.0.1:5432 --keep

Both databases are dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import bcrypt

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "tests" / "legacy" / "leadschem.sql"
LEGACY_DB, TARGET_DB = "lf_bench_leadschem", "lf_bench_import"

FILL = """
INSERT INTO cities (name) SELECT 'Город ' || i FROM generate_series(1, 20) AS i;
INSERT INTO request_types (name) VALUES ('Впервые'), ('Повтор'), ('Гарантия');
INSERT INTO directions (name) SELECT 'Направление ' || i FROM generate_series(1, 8) AS i;
INSERT INTO roles (name) VALUES ('admin'), ('director'), ('manager'), ('callcentr'), ('avitolog');
INSERT INTO transaction_types (name) VALUES ('Приход'), ('Расход'), ('Зарплата'), ('Прочее');
INSERT INTO administrators (name, role_id, status, login, password_hash)
    SELECT 'Админ ' || i, 1, 'active', 'admin' || i, $1 FROM generate_series(1, 2) AS i;
INSERT INTO employees (name, role_id, status, city_id, login, password_hash)
    SELECT 'Сотрудник ' || i, 2 + i % 4, 'active', 1 + i % 20, 'staff' || i, $1 FROM generate_series(1, 30) AS i;
INSERT INTO masters (city_id, full_name, phone_number, status, login, password_hash)
    SELECT 1 + i % 20, 'Мастер ' || i, '+7 (916) ' || lpad((1000000 + i)::text, 7, '0'), 'active',
           CASE WHEN i <= 5 THEN 'staff' || i ELSE 'master' || i END, $1
    FROM generate_series(1, 300) AS i;
INSERT INTO advertising_campaigns (city_id, name, phone_number, created_at)
    SELECT 1 + i % 20, CASE WHEN i % 2 = 0 THEN 'Авито ' ELSE 'Листовки ' END || i,
           '8 (800) 700-' || lpad((i % 45)::text, 2, '0') || '-00', now() - (i || ' days')::interval
    FROM generate_series(1, 50) AS i;
"""
REQUESTS = """
INSERT INTO requests (city_id, request_type_id, advertising_campaign_id, client_phone, client_name, address,
                      meeting_date, direction_id, problem, status, master_id, result, expenses, net_amount,
                      master_handover, created_at, updated_at)
SELECT 1 + i % 20, 1 + i % 2, 1 + i % 50,
       '+7 (9' || lpad((i % 100)::text, 2, '0') || ') ' || lpad((i % 1000)::text, 3, '0') || '-'
           || lpad((i % 97)::text, 2, '0') || '-' || lpad((i % 89)::text, 2, '0'),
       'Клиент ' || i, 'ул. Ленина, ' || (i % 150), now() - ((i % 360) || ' days')::interval + interval '1 day',
       1 + i % 8, 'Не работает', s.status,
       CASE WHEN s.status IN ('Готово', 'completed', 'В работе', 'Принял') THEN 1 + i % 300 END,
       CASE WHEN s.status IN ('Готово', 'completed') THEN 1000 + (i % 50) * 100 END,
       CASE WHEN s.status IN ('Готово', 'completed') THEN (i % 5) * 100 ELSE 0 END,
       CASE WHEN s.status IN ('Готово', 'completed') THEN 1000 + (i % 50) * 100 - (i % 5) * 100 ELSE 0 END,
       CASE WHEN s.status IN ('Готово', 'completed') THEN (1000 + (i % 50) * 100 - (i % 5) * 100) / 2 ELSE 0 END,
       now() - ((i % 365) || ' days')::interval, now() - ((i % 365) || ' days')::interval + interval '2 hours'
FROM generate_series(1, $1) AS i
CROSS JOIN LATERAL (
    SELECT (ARRAY['Новая', 'Перезвонить', 'ТНО', 'Отказ', 'Ожидает', 'Ожидает Принятия', 'Принял', 'В пути',
                  'В работе', 'Модерн', 'Готово', 'Готово', 'Готово', 'completed', 'pending', 'archived',
                  'НеЗаказ'])[1 + (i * 7) % 17] AS status
) AS s;
"""
TRANSACTIONS = """
INSERT INTO transactions (city_id, transaction_type_id, amount, notes, specified_date, created_at)
SELECT r.city_id, 1, r.master_handover, 'Приход по заявке ' || r.id, r.updated_at::date, r.updated_at
FROM requests AS r WHERE r.status = 'Готово' AND r.master_handover > 0 AND r.id <= $1;
INSERT INTO transactions (city_id, transaction_type_id, amount, notes, specified_date, created_at)
SELECT 1 + i % 20, 2 + i % 3, CASE WHEN i % 3 = 2 THEN 500 ELSE -(100 + i % 900) END, 'Касса ' || i,
       current_date - (i % 365), now() - ((i % 365) || ' days')::interval
FROM generate_series(1, $1 / 4) AS i;
"""


async def admin(server: str, statement: str) -> None:
    conn = await asyncpg.connect(f"{server}/postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def build_legacy(server: str, requests: int) -> dict[str, int]:
    await admin(server, f'DROP DATABASE IF EXISTS "{LEGACY_DB}" WITH (FORCE)')
    await admin(server, f'CREATE DATABASE "{LEGACY_DB}"')
    conn = await asyncpg.connect(f"{server}/{LEGACY_DB}")
    try:
        await conn.execute(SCHEMA.read_text(encoding="utf-8"))
        hashed = bcrypt.hashpw(b"Legacy-Pass-2020", bcrypt.gensalt(rounds=4)).decode()
        for statement in FILL.split(";\n"):
            if statement.strip():
                args = (hashed,) if "$1" in statement else ()
                await conn.execute(statement, *args)
        await conn.execute(REQUESTS, requests)
        for statement in TRANSACTIONS.split(";\n"):
            if statement.strip():
                await conn.execute(statement, requests)
        await conn.execute("ANALYZE")
        return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in ("requests", "transactions")}
    finally:
        await conn.close()


def leadflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadflow", *args], env=env, capture_output=True, text=True, check=False, timeout=3600
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="Keep both databases afterwards.")
    options = parser.parse_args()
    started = time.monotonic()
    counts = asyncio.run(build_legacy(options.server, options.requests))
    print(f"legacy database built in {time.monotonic() - started:.1f} s: {counts}", flush=True)
    asyncio.run(admin(options.server, f'DROP DATABASE IF EXISTS "{TARGET_DB}" WITH (FORCE)'))
    asyncio.run(admin(options.server, f'CREATE DATABASE "{TARGET_DB}"'))
    with tempfile.TemporaryDirectory() as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
        env.update(
            LEADFLOW_DATABASE_URL=f"{options.server.replace('postgresql://', 'postgresql+asyncpg://')}/{TARGET_DB}",
            LEADFLOW_DATA_DIR=data_dir,
            LEADFLOW_LOG_LEVEL="WARNING",
        )
        migrated = leadflow(["migrate", "upgrade"], env)
        if migrated.returncode:
            sys.exit(f"migrate failed: {migrated.stderr}")
        source = f"{options.server}/{LEGACY_DB}"
        try:
            for attempt in ("first run", "second run"):
                report = Path(data_dir) / f"{attempt.replace(' ', '-')}.json"
                began = time.monotonic()
                result = leadflow(["import-leadschem", "--from", source, "--report", str(report)], env)
                elapsed = time.monotonic() - began
                if result.returncode:
                    sys.exit(f"{attempt} failed ({result.returncode}): {result.stdout[-2000:]} {result.stderr[-2000:]}")
                tables = json.loads(report.read_text(encoding="utf-8"))["tables"]
                summary = ", ".join(
                    f"{name} {t['imported']}/{t['read']}"
                    for name, t in tables.items()
                    if name in ("requests", "transactions")
                )
                print(f"{attempt}: {elapsed:.1f} s ({summary} imported/read)", flush=True)
        finally:
            if not options.keep:
                for name in (LEGACY_DB, TARGET_DB):
                    asyncio.run(admin(options.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
