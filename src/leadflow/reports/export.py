"""Reports as CSV (the shared rules of ``platform.export``: UTF-8 with a BOM, RFC 4180 quoting and CRLF line ends,
headers in Russian or English, formulas neutralized): one row per item and a totals row."""

from __future__ import annotations

from typing import Any

from leadflow.platform import export
from leadflow.platform.export import Column

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


def to_csv(report: str, body: dict[str, Any], lang: str) -> bytes:
    """``body`` is the report as JSON (``model_dump(mode="json")``): money and rates are already strings. One row per
    item, then the totals row, its first cell saying so."""
    columns = COLUMNS[report]
    totals = export.row(columns, body["totals"])
    totals[0] = TOTAL[lang]
    return export.document(columns, lang, [*(export.row(columns, item) for item in body["items"]), totals])
