"""cluster samples (node counts, pending pods, worker pool load over time); covering index for step durations

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cluster_samples',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metric', sa.String(length=32), nullable=False),
    sa.Column('group', sa.String(length=64), nullable=False),
    sa.Column('capacity_type', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cluster_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_samples_taken_at'), ['taken_at'], unique=False)
    with op.batch_alter_table('steps', schema=None) as batch_op:
        batch_op.create_index('ix_steps_timing', ['scan_id', 'name', 'state', 'started_at', 'finished_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('steps', schema=None) as batch_op:
        batch_op.drop_index('ix_steps_timing')
    with op.batch_alter_table('cluster_samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cluster_samples_taken_at'))
    op.drop_table('cluster_samples')
