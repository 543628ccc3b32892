"""Reference data endpoints: read by any signed-in user, written by admins."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from leadflow.accounts.policies import AdminOnly, SignedIn
from leadflow.catalog import schemas, service
from leadflow.platform.api import API_PREFIX
from leadflow.platform.dependencies import CacheDep, Paging, Session
from leadflow.platform.params import IdPath, SearchQuery
from leadflow.platform.problems import PROBLEM_RESPONSES
from leadflow.platform.schemas import Page

router = APIRouter(prefix=API_PREFIX, tags=["reference data"], responses=PROBLEM_RESPONSES)
Active = Annotated[bool | None, Query(description="Only active (true) or inactive (false) rows.")]


def _mount(
    path: str,
    svc: service.ReferenceService[Any],
    out: type[BaseModel],
    create: type[BaseModel],
    update: type[BaseModel],
) -> None:
    label = svc.label

    async def list_rows(
        _: SignedIn, session: Session, cache: CacheDep, paging: Paging, active: Active = None, q: SearchQuery = None
    ) -> dict[str, Any]:
        return await svc.cached_page(session, cache, out, paging, active=active, q=q)

    async def get_row(row_id: IdPath, _: SignedIn, session: Session) -> Any:
        return await svc.get(session, row_id)

    async def create_row(body: create, _: AdminOnly, session: Session) -> Any:  # type: ignore[valid-type]
        return await svc.create(session, body)

    async def update_row(row_id: IdPath, body: update, _: AdminOnly, session: Session) -> Any:  # type: ignore[valid-type]
        return await svc.update(session, row_id, body)

    async def delete_row(row_id: IdPath, _: AdminOnly, session: Session) -> Response:
        await svc.delete(session, row_id)
        return Response(status_code=204)

    router.add_api_route(
        path,
        list_rows,
        methods=["GET"],
        response_model=Page[out],  # type: ignore[valid-type]
        summary=f"List {label} rows",
    )
    router.add_api_route(
        path, create_row, methods=["POST"], response_model=out, status_code=201, summary=f"Create a {label}"
    )
    router.add_api_route(f"{path}/{{row_id}}", get_row, methods=["GET"], response_model=out, summary=f"Get a {label}")
    router.add_api_route(
        f"{path}/{{row_id}}", update_row, methods=["PATCH"], response_model=out, summary=f"Change a {label}"
    )
    router.add_api_route(
        f"{path}/{{row_id}}",
        delete_row,
        methods=["DELETE"],
        status_code=204,
        response_class=Response,
        summary=f"Delete an unused {label}",
        description="A row that is referenced anywhere answers 409; deactivate it instead.",
    )


_mount("/cities", service.cities, schemas.CityOut, schemas.CityCreate, schemas.CityUpdate)
_mount(
    "/request-types",
    service.request_types,
    schemas.RequestTypeOut,
    schemas.RequestTypeCreate,
    schemas.RequestTypeUpdate,
)
_mount("/directions", service.directions, schemas.DirectionOut, schemas.DirectionCreate, schemas.DirectionUpdate)
_mount(
    "/transaction-types",
    service.transaction_types,
    schemas.TransactionTypeOut,
    schemas.TransactionTypeCreate,
    schemas.TransactionTypeUpdate,
)
