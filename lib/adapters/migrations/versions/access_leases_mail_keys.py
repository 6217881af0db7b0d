"""replicas: leader leases for background duties, one stored mail per (scan, kind)

Revision ID: access_leases
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "access_leases"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("messages") as batch:
        # NULL for older rows (unique allows many NULLs in SQLite and PostgreSQL): only new mail is keyed.
        batch.add_column(sa.Column("idempotency_key", sa.String(length=96), nullable=True))
        batch.create_index("ux_messages_idempotency_key", ["idempotency_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ux_messages_idempotency_key")
        batch.drop_column("idempotency_key")
    op.drop_table("leases")
