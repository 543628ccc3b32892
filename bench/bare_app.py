"""The yardstick of SPEC §13: a bare FastAPI endpoint, served the same way as Leadflow (uvicorn, one process), so
that the service's throughput can be reported as a ratio to it in the same run.

    uv run uvicorn --app-dir bench bare_app:app --port 8799 --log-level warning --no-access-log
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, bool]:
    return {"ok": True}
