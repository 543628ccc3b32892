"""The JSON shape of accounts and master profiles, shared by the sign-in and the user administration routers."""

from __future__ import annotations

from typing import Any

from leadflow.accounts import schemas
from leadflow.accounts.models import Role, User, UserStatus
from leadflow.accounts.policies import Principal
from leadflow.accounts.scope import passport_visible


def user_out(user: User, viewer: Principal | None) -> schemas.UserOut:
    master: dict[str, Any] | None = None
    if user.master is not None:
        master = schemas.MasterProfileDetail.model_validate(user.master, from_attributes=True).model_dump()
        if viewer is None or not passport_visible(viewer, user):
            master["passport"] = None
    return schemas.UserOut(
        id=user.id,
        login=user.login,
        full_name=user.full_name,
        role=Role(user.role),
        status=UserStatus(user.status),
        city_ids=user.city_ids,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
        master=master,
        two_factor_enabled=bool(user.totp_secret),
    )


def master_out(user: User, viewer: Principal, detail: bool) -> dict[str, Any]:
    assert user.master is not None
    data = {
        "id": user.id,
        "login": user.login,
        "full_name": user.full_name,
        "status": user.status,
        "city_id": user.master.city_id,
        "phone": user.master.phone,
        "birth_date": user.master.birth_date,
        "telegram_chat_id": user.master.telegram_chat_id,
        "company_share": user.master.company_share,
        "notes": user.master.notes,
    }
    if detail:
        data["passport"] = user.master.passport if passport_visible(viewer, user) else None
    return data
