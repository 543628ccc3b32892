"""Every string parameter of every operation in the OpenAPI document at its maxLength and one over: never a 5xx
(on PostgreSQL a too-long value reaching a query is a driver error). Complements the schemathesis run, whose
coverage phase does the same for bodies."""

from __future__ import annotations

import re

from leadflow.accounts.models import Role
from tests.conftest import Harness

PARAM = re.compile(r"\{([^}]+)\}")


async def test_string_parameters_at_and_over_max_length(h: Harness) -> None:
    admin = await h.as_user(await h.user(Role.admin))
    document = h.app.openapi()
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for param in operation.get("parameters", []):
                options = param.get("schema", {}).get("anyOf", [param.get("schema", {})])
                limit = next((o["maxLength"] for o in options if o.get("type") == "string" and "maxLength" in o), None)
                if limit is None or param["in"] not in {"path", "query", "header"}:
                    continue
                for length in (limit, limit + 1):
                    value = "7" * length
                    url = PARAM.sub(lambda m, p=param, v=value: v if m.group(1) == p["name"] else "1", path)
                    params = {param["name"]: value} if param["in"] == "query" else {}
                    headers = {param["name"]: value} if param["in"] == "header" else {}
                    response = await admin.request(method.upper(), url, params=params, headers=headers)
                    assert response.status_code < 500, (method, path, param["name"], length, response.text)
                    checked += 1
    assert checked > 20
