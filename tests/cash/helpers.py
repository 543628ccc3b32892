"""Shared helpers of the cash-desk tests."""

from __future__ import annotations

from typing import Any

import httpx

TX = "/api/v1/transactions"


async def book(
    client: httpx.AsyncClient,
    city_id: int,
    type_id: int,
    amount: Any = "100.00",
    occurred_on: str = "2024-03-10",
    **extra: Any,
) -> dict[str, Any]:
    """Book a transaction through the API (it must be created) and return the stored transaction."""
    body = {"city_id": city_id, "type_id": type_id, "amount": amount, "occurred_on": occurred_on, **extra}
    response = await client.post(TX, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data
