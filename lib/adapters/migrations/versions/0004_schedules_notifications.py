"""recurring scans and notifications

Revision ID: 0004_schedules
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_schedules"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("owner_email", sa.String(length=320), nullable=False, index=True),
        sa.Column("target", sa.String(length=2048), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("scanners", sa.JSON(), nullable=False),
        sa.Column("cron", sa.String(length=128), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=False),
        sa.Column("ownership_token", sa.String(length=64), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_scan_id", sa.String(length=32), nullable=False),
        sa.Column("last_outcome", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("scan_id", sa.String(length=32), primary_key=True),
        sa.Column(
            "schedule_id",
            sa.String(length=32),
            sa.ForeignKey("schedules.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
    )
    op.create_table(
        "notification_rules",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("owner_email", sa.String(length=320), nullable=False, index=True),
        sa.Column("schedule_id", sa.String(length=32), nullable=False, index=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("min_severity", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "rule_id",
            sa.Integer(),
            sa.ForeignKey("notification_rules.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("scan_id", sa.String(length=32), nullable=False, index=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("rule_id", "scan_id"),
    )
    op.create_table(
        "notified_scans",
        sa.Column("scan_id", sa.String(length=32), primary_key=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notified_scans")
    op.drop_table("notification_deliveries")
    op.drop_table("notification_rules")
    op.drop_table("schedule_runs")
    op.drop_table("schedules")
