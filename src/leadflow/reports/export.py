"""Reports as CSV: UTF-8 with a BOM (so that Excel reads Cyrillic), RFC 4180 quoting and CRLF line ends, headers in
Russian or English, one row per item and a totals row."""

from __future__ import annotations

import csv
import io
from typing import Any

# Per report: (key in the item, possibly dotted into a nested object; Russian header; English header).
Column = tuple[str, str, str]

_MONEY_CITY: list[Column] = [
    ("revenue", "Выручка", "Revenue"),
    ("expenses", "Расходы", "Expenses"),
    ("net", "Чистыми", "Net"),
    ("handover", "Сдача мастеров", "Handover"),
]

COLUMNS: dict[str, list[Column]] = {
    "cities": [
        ("city_name", "Город", "City"),
        ("requests_total", "Заявок", "Requests"),
        ("requests_by_group.intake", "Приём", "Intake"),
        ("requests_by_group.awaiting", "Ожидают", "Awaiting"),
        ("requests_by_group.in_work", "В работе", "In work"),
        ("requests_by_group.done", "Готово (созданные)", "Done (of created)"),
        ("requests_by_group.refused", "Отказ (созданные)", "Refused (of created)"),
        ("done", "Готово", "Done"),
        ("refused", "Отказы", "Refused"),
        ("conversion_rate", "Конверсия, %", "Conversion, %"),
        *_MONEY_CITY,
        ("cash_income", "Касса: приход", "Cash income"),
        ("cash_expense", "Касса: расход", "Cash expense"),
        ("cash_net", "Касса: итог", "Cash net"),
        ("active_masters", "Активных мастеров", "Active masters"),
        ("average_check", "Средний чек", "Average check"),
    ],
    "masters": [
        ("master_name", "Мастер", "Master"),
        ("status", "Статус", "Status"),
        ("assigned", "Назначено", "Assigned"),
        ("done", "Готово", "Done"),
        ("refused", "Отказы", "Refused"),
        ("in_work", "В работе", "In work"),
        ("conversion_rate", "Конверсия, %", "Conversion, %"),
        ("revenue", "Выручка", "Revenue"),
        ("net", "Чистыми", "Net"),
        ("handover", "Сдача", "Handover"),
        ("earnings", "Заработок", "Earnings"),
        ("average_check", "Средний чек", "Average check"),
        ("last_activity_at", "Последняя активность (UTC)", "Last activity (UTC)"),
    ],
    "campaigns": [
        ("campaign_name", "Кампания", "Campaign"),
        ("channel", "Канал", "Channel"),
        ("calls", "Звонки", "Calls"),
        ("requests_total", "Заявок", "Requests"),
        ("first_time", "Первичные", "First-time"),
        ("repeat", "Повторные", "Repeat"),
        ("done", "Готово", "Done"),
        ("conversion_rate", "Конверсия, %", "Conversion, %"),
        ("revenue", "Выручка", "Revenue"),
        ("handover", "Сдача мастеров", "Handover"),
        ("ad_spend", "Расход на рекламу", "Ad spend"),
        ("cost_per_request", "Цена заявки", "Cost per request"),
        ("roi", "ROI, %", "ROI, %"),
    ],
    "operators": [
        ("operator_name", "Оператор", "Operator"),
        ("requests_total", "Заявок", "Requests"),
        ("booked", "Записано", "Booked"),
        ("refused", "Отказы", "Refused"),
        ("not_reached", "Не дозвонились", "Not reached"),
        ("booking_rate", "Доля записи, %", "Booking rate, %"),
    ],
    "summary": [
        ("city_name", "Город", "City"),
        ("today.requests_total", "Сегодня: заявок", "Today: requests"),
        ("today.done", "Сегодня: готово", "Today: done"),
        ("today.revenue", "Сегодня: выручка", "Today: revenue"),
        ("today.cash_net", "Сегодня: касса", "Today: cash net"),
        ("requests_total", "Заявок за период", "Requests in period"),
        ("done", "Готово за период", "Done in period"),
        ("revenue", "Выручка за период", "Revenue in period"),
        ("cash_net", "Касса за период", "Cash net in period"),
        ("in_work", "В работе сейчас", "In work now"),
    ],
}
TOTAL = {"ru": "Итого", "en": "Total"}


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _value(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _is_number(value):
        # A name such as "=HYPERLINK(...)" would run as a formula in a spreadsheet: keep it text (OWASP CSV injection).
        return "'" + value
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_csv(report: str, body: dict[str, Any], lang: str) -> bytes:
    """``body`` is the report as JSON (``model_dump(mode="json")``): money and rates are already strings."""
    columns = COLUMNS[report]
    english = lang == "en"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # the csv module quotes RFC 4180 style: "" inside quotes
    writer.writerow([en if english else ru for _, ru, en in columns])
    for item in body["items"]:
        writer.writerow([_value(item, key) for key, _, _ in columns])
    totals = [_value(body["totals"], key) for key, _, _ in columns]
    totals[0] = TOTAL[lang]
    writer.writerow(totals)
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def language(lang: str | None, accept_language: str | None) -> str:
    """``lang`` when given; else Russian when Accept-Language prefers it to English; else English."""
    if lang:
        return lang
    best, best_q = "en", -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in ("ru", "en") and q > best_q:
            best, best_q = primary, q
    return best
