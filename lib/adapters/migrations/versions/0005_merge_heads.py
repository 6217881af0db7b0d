"""merge the five revisions written in parallel on top of 0003 into one head

Revision ID: 0005
Revises: 0004, 0004_schedules, 0004_api_tokens, access_audit, argo_deliveries

Why: with several heads `alembic upgrade head` and `alembic revision` refuse to run; after this merge the next
migration has one parent. It changes no schema.
"""

revision = "0005"
down_revision = ("0004", "0004_schedules", "0004_api_tokens", "access_audit", "argo_deliveries")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
