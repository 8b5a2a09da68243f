"""candidate job leases (one running job across processes) and review labels' conversations

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table('candidate_job') as batch:
        batch.add_column(sa.Column('active', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('lease_holder', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('lease_until', sa.Float(), nullable=True))
    op.create_index('ix_candidate_job_active', 'candidate_job', ['active'], unique=True)
    # No process of an older release renews a lease: a job it left running has stopped.
    op.execute(sa.text(
        "UPDATE candidate_job SET state = 'failed', error = 'the process running it stopped', "
        "finished_at = started_at WHERE state IN ('training', 'evaluating')"))
    op.create_table('review_label_sender',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('label_id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['label_id'], ['review_label.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_review_label_sender', 'review_label_sender',
                    ['label_id', 'sender_id'], unique=True)
    op.create_index(op.f('ix_review_label_sender_sender_id'), 'review_label_sender',
                    ['sender_id'], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index(op.f('ix_review_label_sender_sender_id'), table_name='review_label_sender')
    op.drop_index('ix_review_label_sender', table_name='review_label_sender')
    op.drop_table('review_label_sender')
    op.drop_index('ix_candidate_job_active', table_name='candidate_job')
    with op.batch_alter_table('candidate_job') as batch:
        batch.drop_column('lease_until')
        batch.drop_column('lease_holder')
        batch.drop_column('active')
