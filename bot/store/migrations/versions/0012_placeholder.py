"""candidate job leases and review privacy

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""


def downgrade() -> None:
    """Revert this migration."""
