"""files: one live file per owner, kind and content

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 20:10:00

Concurrent uploads of the same bytes raced past the service's look-up and made several files; the database now
decides. Duplicates already stored are soft-deleted first (the earliest upload is kept, the rows stay for the audit
trail), else the unique indexes could not be built.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNERS = ("request_id", "transaction_id", "recording_id")
LIVE = sa.text("deleted_at IS NULL")

SOFT_DELETE_LATER_DUPLICATES = """
UPDATE files SET deleted_at = :now
WHERE deleted_at IS NULL AND EXISTS (
    SELECT 1 FROM files AS earlier
    WHERE earlier.deleted_at IS NULL AND earlier.kind = files.kind AND earlier.sha256 = files.sha256
      AND (earlier.request_id = files.request_id OR earlier.transaction_id = files.transaction_id
           OR earlier.recording_id = files.recording_id)
      AND (earlier.uploaded_at < files.uploaded_at OR (earlier.uploaded_at = files.uploaded_at AND earlier.id < files.id))
)
"""


def upgrade() -> None:
    now = sa.bindparam("now", dt.datetime.now(dt.UTC), type_=sa.DateTime(timezone=True))
    op.get_bind().execute(sa.text(SOFT_DELETE_LATER_DUPLICATES).bindparams(now))
    for owner in OWNERS:
        op.create_index(
            f"uq_files_{owner}_kind_sha256",
            "files",
            [owner, "kind", "sha256"],
            unique=True,
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        )


def downgrade() -> None:
    for owner in OWNERS:
        op.drop_index(f"uq_files_{owner}_kind_sha256", table_name="files", sqlite_where=LIVE, postgresql_where=LIVE)
