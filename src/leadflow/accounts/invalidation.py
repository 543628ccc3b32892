"""Which writes make a remembered principal stale (``platform.cache``): the signed-in user is kept in each process
(``policies.load_principal``) while the generations of ``users`` and ``user:<id>`` stay the same.

Any write to the user's row, their cities, their master profile or their sessions bumps ``user:<id>``; a bulk
statement on those tables (a session revoked by ``UPDATE … WHERE``, say) bumps ``users``, which every principal
depends on. So a block, a password change, a role or city change, a sign-out or a revoked session takes effect on
the user's next request, in every process.
"""

from __future__ import annotations

from typing import Any

from leadflow.accounts.models import AuthSession, MasterProfile, User, UserCity
from leadflow.platform.cache import invalidated_by

EVERY_USER = "users"


def principal_tags(user_id: int) -> list[str]:
    return [EVERY_USER, f"user:{user_id}"]


def _user(row: Any) -> set[str]:
    return {f"user:{row.id}"} if isinstance(row, User) else {EVERY_USER}


def _owned(row: Any) -> set[str]:
    user_id = getattr(row, "user_id", None)
    return {f"user:{user_id}"} if user_id is not None else {EVERY_USER}


def register_cache_taggers() -> None:
    invalidated_by(User.__tablename__, _user)
    for model in (UserCity, MasterProfile, AuthSession):
        invalidated_by(model.__tablename__, _owned)
