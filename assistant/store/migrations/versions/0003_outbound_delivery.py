"""outbound delivery: attempts, retry time, error and route per message; attachments; Kakao callbacks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachments', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('delivery_error', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('delivered_via', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_messages_delivery', ['delivery', 'channel'], unique=False)

    op.create_table('kakao_callbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('kakao_callbacks', schema=None) as batch_op:
        batch_op.create_index('ix_kakao_callbacks_conversation', ['conversation_id', 'expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kakao_callbacks', schema=None) as batch_op:
        batch_op.drop_index('ix_kakao_callbacks_conversation')
    op.drop_table('kakao_callbacks')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_delivery')
        batch_op.drop_column('delivered_at')
        batch_op.drop_column('delivered_via')
        batch_op.drop_column('delivery_error')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('attachments')
