"""API tokens, the API call audit log, and the API's columns on scans

Revision ID: 0004_api_tokens
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_api_tokens"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("owner_email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scopes", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix"),
    )
    op.create_index("ix_api_tokens_owner_email", "api_tokens", ["owner_email"])
    op.create_table(
        "api_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_prefix", sa.String(length=16), nullable=False),
        sa.Column("owner_email", sa.String(length=320), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("scan_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_audit_at", "api_audit", ["at"])
    op.create_index("ix_api_audit_token_prefix", "api_audit", ["token_prefix"])
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("requested_via", sa.String(length=16), nullable=False, server_default="form"))
        batch.add_column(sa.Column("callback_url", sa.String(length=2048), nullable=False, server_default=""))
        batch.add_column(sa.Column("callback_sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("callback_sent_at")
        batch.drop_column("callback_url")
        batch.drop_column("requested_via")
    op.drop_table("api_audit")
    op.drop_table("api_tokens")
