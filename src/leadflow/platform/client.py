"""Where a call came from (address, user agent): an HTTP fact that services take for the audit and access logs
instead of the HTTP request itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request


@dataclass(frozen=True)
class ClientInfo:
    """Where a call came from, for the audit log. Built by routers; services never see the HTTP request."""

    ip: str | None
    user_agent: str | None


def client_info(request: Request) -> ClientInfo:
    ua = request.headers.get("user-agent")
    return ClientInfo(ip=getattr(request.state, "client_ip", None), user_agent=ua[:300] if ua else None)


async def _client(request: Request) -> ClientInfo:
    return client_info(request)


Client = Annotated[ClientInfo, Depends(_client)]
