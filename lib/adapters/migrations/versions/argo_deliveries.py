"""argo mode: how many times the webhook accepted a scan (re-delivery when its Workflow never appears)

Revision ID: argo_deliveries
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "argo_deliveries"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("deliveries", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("deliveries")
