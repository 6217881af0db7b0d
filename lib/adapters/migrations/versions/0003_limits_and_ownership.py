"""abuse limits and ownership proof

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "limit_keys",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("ownership_token", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("ownership_verified_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_scans_client_id", ["client_id"])


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_index("ix_scans_client_id")
        batch.drop_column("ownership_verified_at")
        batch.drop_column("ownership_token")
    op.drop_table("limit_keys")
