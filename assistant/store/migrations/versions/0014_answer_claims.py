"""messages: who is answering an inbound message and until when (a lease), and when it was answered, so
that several gateways answer each stored message exactly once, even after one of them dies

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answering_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('answering_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_messages_recent_inbound', ['direction', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_recent_inbound')
        batch_op.drop_column('answered_at')
        batch_op.drop_column('answering_until')
        batch_op.drop_column('answering_by')
