"""legacy import map: the LeadSchem ids `leadflow import-leadschem` has imported

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "legacy_import_map",
        sa.Column("legacy_table", sa.String(length=60), nullable=False),
        sa.Column("legacy_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("legacy_table", "legacy_id", name=op.f("pk_legacy_import_map")),
    )


def downgrade() -> None:
    op.drop_table("legacy_import_map")
