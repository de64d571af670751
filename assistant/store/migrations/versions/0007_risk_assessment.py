"""risk assessment: five levels (elevated → medium), per-conversation context, counsellor corrections

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE conversations SET risk = 'medium' WHERE risk = 'elevated'")
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk_context', sa.Text(), nullable=True))
    op.create_table('risk_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('context', sa.Text(), nullable=True),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('was', sa.JSON(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('risk_labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_labels_conversation_id'), ['conversation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('risk_labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_labels_conversation_id'))
    op.drop_table('risk_labels')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('risk_context')
    op.execute("UPDATE conversations SET risk = 'elevated' WHERE risk IN ('medium', 'low')")
