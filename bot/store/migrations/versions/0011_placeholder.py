"""sign-in counters and rating links

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""


def downgrade() -> None:
    """Revert this migration."""
