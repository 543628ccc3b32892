"""Alembic environment: async engines, every domain's models, batch mode on SQLite."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from leadflow.models import metadata
from leadflow.platform.db import Base, create_engine
from leadflow.platform.settings import get_settings

config = context.config
assert metadata is Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    """Render our column types as the plain SQLAlchemy types they wrap: migrations never import app code."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


# Indexes the models cannot describe on every backend: PostgreSQL-only trigram search indexes, created by hand in the
# migrations (0002). Autogenerate and `alembic check` leave them alone.
HAND_MADE_PREFIX = "trgm_"


def _include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "index" and reflected and (name or "").startswith(HAND_MADE_PREFIX))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(url, get_settings())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
