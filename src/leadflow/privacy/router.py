"""Personal data of a client phone (SPEC §11), for admins: export (JSON, or a zip with the files) and erasure."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator

from leadflow.accounts.policies import AdminOnly
from leadflow.platform.api import API_PREFIX
from leadflow.platform.client import Client
from leadflow.platform.dependencies import Session, StorageDep
from leadflow.platform.logging import mask_phone
from leadflow.platform.phones import normalize_phone
from leadflow.platform.problems import PROBLEM_RESPONSES
from leadflow.privacy import archive, service
from leadflow.privacy.schemas import ClientExport, ErasureOut

router = APIRouter(prefix=API_PREFIX, tags=["personal data"], responses=PROBLEM_RESPONSES)
ClientPhone = Annotated[
    str,
    Path(
        max_length=40,
        description="The client's phone in any usual spelling (`+7 (916) 123-45-67`, `89161234567`, `79161234567`); "
        "normalized as everywhere (SPEC §4); a phone that cannot be one is 422.",
    ),
    AfterValidator(normalize_phone),
]
ZIP_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/zip": {}}, "description": "JSON, or with `?format=zip` a zip archive."}
}


@router.get(
    "/privacy/clients/{phone}",
    response_model=ClientExport,
    responses=ZIP_RESPONSE,
    summary="Export everything stored about a client phone (admin; audited)",
    description="The requests with this client phone (every field), their history, the calls from it, the call "
    "recordings from it or linked to those requests, and the files of those requests and recordings (metadata). "
    "`?format=zip`: a zip of the stored files' bytes (`files/<id>-<name>`) and `data.json` (the same document, plus "
    "`archive`: which files it holds and which content could not be read). A phone nothing is stored about: 404.",
)
async def export_client(
    phone: ClientPhone,
    principal: AdminOnly,
    session: Session,
    storage: StorageDep,
    client: Client,
    format: Annotated[Literal["json", "zip"], Query(description="`json` (default) or `zip`.")] = "json",
) -> Any:
    data = await service.export(session, principal, phone, client, fmt=format)
    if format == "zip":
        return StreamingResponse(
            archive.stream(storage, data),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="client-{phone}.zip"'},
        )
    return data.document()


@router.post(
    "/privacy/clients/{phone}/erase",
    response_model=ErasureOut,
    summary="Erase a client phone's personal data (admin; audited)",
    description="Anonymizes the client's requests (phone, name, address, problem and notes), the personal values in "
    "their history, the caller number of the calls and recordings; deletes the recordings' audio and the files of "
    "those requests and recordings. Statuses, money, dates and counts stay, so reports do not change. One "
    "transaction; the files' content is removed after it commits. A phone nothing is stored about, including one "
    "already erased: 404. See docs/security.md.",
)
async def erase_client(
    phone: ClientPhone, principal: AdminOnly, session: Session, storage: StorageDep, client: Client
) -> ErasureOut:
    done = await service.erase(session, storage, principal, phone, client)
    return ErasureOut(phone_masked=mask_phone(phone), orphaned_files=done.orphans, **done.counts)
