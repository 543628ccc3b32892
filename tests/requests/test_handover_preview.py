"""The money preview a completion form shows (``handover.preview_money``) and the BSO rule of the master's completion
form (``handover.require_bso``): the preview equals what the move to done then stores, with the master's own share."""

from __future__ import annotations

from decimal import Decimal

import pytest

from leadflow.platform.problems import ValidationProblem
from leadflow.requests import handover
from leadflow.requests.models import Request
from leadflow.requests.money import Money
from tests.conftest import Harness
from tests.files.helpers import png, uploaded
from tests.requests.helpers import API, as_text, handover_cents, move, reach, team, to_cents, url


async def preview(h: Harness, rid: int, result: str | None, expenses: str | None, default: str = "0.50") -> Money:
    async with h.database.session() as session:
        row = await session.get(Request, rid)
        assert row is not None
        r = Decimal(result) if result is not None else None
        e = Decimal(expenses) if expenses is not None else None
        return await handover.preview_money(session, row, r, e, Decimal(default))


@pytest.mark.parametrize(("share", "result", "expenses"), [(None, "5000", "1000.01"), ("0.30", "1234.57", "0.02")])
async def test_preview_equals_what_done_stores(h: Harness, share: str | None, result: str, expenses: str) -> None:
    t = await team(h)
    if share is not None:
        changed = await t.admin.patch(f"{API}/masters/{t.master_id}", json={"company_share": share})
        assert changed.status_code == 200, changed.text
    req = await reach(t, "in_progress")
    shown = await preview(h, req["id"], result, expenses)
    net = to_cents(Decimal(result)) - to_cents(Decimal(expenses))
    pct = to_cents(Decimal(share or "0.50"))
    assert shown.net_amount == Decimal(as_text(net))
    assert shown.master_handover == Decimal(as_text(handover_cents(net, pct)))
    # The preview changed nothing; the move then stores exactly the previewed amounts.
    assert (await t.director.get(url(req["id"]))).json()["status"] == "in_progress"
    done = await move(t.master, req["id"], "done", result=result, expenses=expenses)
    assert Decimal(done["net_amount"]) == shown.net_amount
    assert Decimal(done["master_handover"]) == shown.master_handover
    assert Decimal(done["company_share"]) == shown.company_share


async def test_preview_refuses_the_money_the_move_refuses(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "in_progress")
    with pytest.raises(ValidationProblem) as caught:
        await preview(h, req["id"], "100", "100.01")
    assert [e["field"] for e in caught.value.errors or []] == ["expenses"]
    with pytest.raises(ValidationProblem) as caught:
        await preview(h, req["id"], None, None)
    assert sorted(e["field"] for e in caught.value.errors or []) == ["expenses", "result"]


async def test_require_bso_until_a_bso_photo_is_attached(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "in_progress")

    async def check() -> None:
        async with h.database.session() as session:
            await handover.require_bso(session, req["id"])

    with pytest.raises(ValidationProblem) as caught:
        await check()
    assert [e["field"] for e in caught.value.errors or []] == ["bso"]
    await uploaded(t.master, url(req["id"], "/files"), png(seed=1), "receipt.png", kind="expense_receipt")
    with pytest.raises(ValidationProblem):
        await check()  # a receipt is not the BSO form
    await uploaded(t.master, url(req["id"], "/files"), png(seed=2), "bso.png", kind="bso")
    await check()
