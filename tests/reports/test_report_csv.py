"""Reports as CSV (docs/reports.md, SPEC §4): UTF-8 with a BOM, RFC 4180 quoting, one header row, one row per item,
a totals row; Russian or English headers; null rates as empty cells; numbers written as in the JSON."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import Harness
from tests.reports.helpers import APRIL, BOM, REPORTS, do_job, new_request, report, report_url, stamp
from tests.requests.helpers import API, move

TRICKY = 'Alpha, "Beta"\nGamma'  # a comma, double quotes and a newline: all three need RFC 4180 quoting
CYRILLIC = re.compile("[А-Яа-яЁё]")


@dataclass
class Sheet:
    h: Harness
    admin: httpx.AsyncClient
    tricky: int
    quiet: int  # a city with nothing in it: its rates are null


@pytest.fixture
async def sheet(h: Harness) -> Sheet:
    tricky = (await h.city(TRICKY, "Europe/Moscow")).id
    quiet = (await h.city("Тихий", "Europe/Moscow")).id
    admin = await h.as_user(await h.user("admin"))
    operator = await h.as_user(await h.user("operator", cities=[tricky]))
    master = await h.user("master", master_city=tricky)
    campaign = await admin.post(f"{API}/campaigns", json={"city_id": tricky, "name": "A, b", "phone": "74952220001"})
    assert campaign.status_code == 201, campaign.text
    rid = await new_request(operator, tricky, "79970000001", campaign_id=campaign.json()["id"])
    await move(operator, rid, "awaiting_dispatch")
    done = await do_job(admin, rid, master.id, "2469", "0")
    assert done["master_handover"] == "1234.50"  # 2469 × 0.50
    await stamp(h, rid, "2026-04-10T09:00", "2026-04-11T09:00", completed="2026-04-11T09:00", handover_on="2026-04-11")
    return Sheet(h=h, admin=admin, tricky=tricky, quiet=quiet)


def rows_of(response: httpx.Response) -> list[list[str]]:
    """Check the CSV envelope and parse the body with the csv module."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment"), disposition
    assert re.search(r'filename\*?=[^;]*\.csv"?\s*(;|$)', disposition), disposition
    body = response.content
    assert body.startswith(BOM), body[:10]
    text = body[len(BOM) :].decode("utf-8")
    assert not text.startswith("\ufeff")  # one BOM, not two
    return list(csv.reader(io.StringIO(text, newline="")))


async def test_cities_csv(sheet: Sheet) -> None:
    response = await sheet.admin.get(report_url("cities"), params={"format": "csv", "lang": "ru", **APRIL})
    rows = rows_of(response)
    header, *items, totals = rows
    assert header[0] == "Город"
    assert len(items) == 2  # one row per city, then the totals row
    assert all(len(row) == len(header) for row in rows), rows
    by_name = {row[0]: row for row in items}
    assert set(by_name) == {TRICKY, "Тихий"}  # the tricky name round-trips through the quoting
    busy = by_name[TRICKY]
    assert "1234.50" in busy  # the handover, written as in JSON
    assert "2469.00" in busy  # revenue, net and the average check
    assert "100.00" in busy  # conversion: 1 done / 1 created
    assert "" not in busy  # nothing is null in a city with a done request
    quiet = by_name["Тихий"]
    assert quiet.count("") == 2  # conversion_rate and average_check are null: empty cells, not "None" or "null"
    assert not {"None", "null", "NaN"} & set(quiet)
    assert "1234.50" in totals and "2469.00" in totals


async def test_csv_rows_match_the_json(sheet: Sheet) -> None:
    """The same figures as the JSON, in order: the item's values appear in its CSV row."""
    body = await report(sheet.admin, "cities", city_id=sheet.tricky, **APRIL)
    item = body["items"][0]
    csv_rows = rows_of(
        await sheet.admin.get(report_url("cities"), params={"format": "csv", "city_id": sheet.tricky, **APRIL})
    )
    assert len(csv_rows) == 3  # header, the city, totals
    row = csv_rows[1]
    for key in ("revenue", "net", "handover", "cash_income", "cash_net", "conversion_rate", "average_check"):
        assert item[key] in row, (key, item[key], row)
    assert str(item["requests_total"]) in row


async def test_raw_bytes_are_rfc4180(sheet: Sheet) -> None:
    response = await sheet.admin.get(report_url("cities"), params={"format": "csv", "lang": "en", **APRIL})
    text = response.content[len(BOM) :].decode("utf-8")
    assert '"Alpha, ""Beta""\nGamma"' in text  # quoted, inner quotes doubled, the newline kept inside the quotes
    assert "\r\n" in text  # records end with CRLF


@pytest.mark.parametrize(
    ("params", "headers", "first"),
    [
        pytest.param({"lang": "ru"}, {}, "Город", id="lang-ru"),
        pytest.param({"lang": "en"}, {}, "City", id="lang-en"),
        pytest.param({}, {"Accept-Language": "ru-RU,ru;q=0.9"}, "Город", id="accept-ru"),
        pytest.param({}, {"Accept-Language": "en-US,en;q=0.9,ru;q=0.8"}, "City", id="accept-en-first"),
        pytest.param({}, {"Accept-Language": "en"}, "City", id="accept-en"),
        pytest.param({"lang": "en"}, {"Accept-Language": "ru-RU,ru;q=0.9"}, "City", id="lang-beats-header"),
        pytest.param({"lang": "ru"}, {"Accept-Language": "en"}, "Город", id="lang-ru-beats-header"),
        pytest.param({}, {}, "Город", id="default-russian"),
        pytest.param({}, {"Accept-Language": "de-DE"}, "Город", id="neither-russian"),
    ],
)
async def test_header_language(sheet: Sheet, params: dict[str, str], headers: dict[str, str], first: str) -> None:
    response = await sheet.admin.get(report_url("cities"), params={"format": "csv", **params, **APRIL}, headers=headers)
    assert rows_of(response)[0][0] == first


@pytest.mark.parametrize("name", REPORTS)
async def test_every_report_exports(sheet: Sheet, name: str) -> None:
    items = (await report(sheet.admin, name, **APRIL))["items"]
    assert items  # two cities, a master, a campaign, an operator: every report has rows
    ru = rows_of(await sheet.admin.get(report_url(name), params={"format": "csv", "lang": "ru", **APRIL}))
    en = rows_of(await sheet.admin.get(report_url(name), params={"format": "csv", "lang": "en", **APRIL}))
    for rows in (ru, en):
        assert len(rows) == 1 + len(items) + 1, rows  # header, one row per item, totals
        assert all(len(row) == len(rows[0]) for row in rows), rows
    assert CYRILLIC.search(ru[0][0]), ru[0]  # Russian headers
    assert not any(CYRILLIC.search(cell) for cell in en[0]), en[0]  # English headers
    assert len(ru[0]) == len(en[0])  # the same columns in either language
