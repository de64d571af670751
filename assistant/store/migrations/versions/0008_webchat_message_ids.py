"""web chat: forget the retry keys stored as "<session>:<client id>" (a session id reads the replies)

The gateway now stores a keyed hash (hex, no ':'); the old keys only caught retries of a few seconds.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE messages SET platform_message_id = NULL "
                "WHERE channel = 'web' AND platform_message_id LIKE '%:%'")


def downgrade() -> None:
    pass  # the session ids are not kept anywhere to put back
