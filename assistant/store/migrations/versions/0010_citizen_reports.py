"""citizen reports: reported items (duplicates merged) and each report with its receipt's keyed hash

Revision ID: 0010
Revises: 0011 (numbered before the outreach migration, which landed first)
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('citizen_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('url_key', sa.String(length=64), nullable=True),
    sa.Column('text_key', sa.String(length=64), nullable=True),
    sa.Column('report_count', sa.Integer(), nullable=False),
    sa.Column('minor', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fetch', sa.String(length=20), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['detection_posts.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('text_key'),
    sa.UniqueConstraint('url_key')
    )
    with op.batch_alter_table('citizen_items', schema=None) as batch_op:
        batch_op.create_index('ix_citizen_items_post_id', ['post_id'], unique=False)
        batch_op.create_index('ix_citizen_items_processed_at', ['processed_at'], unique=False)
    op.create_table('citizen_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('receipt_key', sa.String(length=64), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('minor', sa.Boolean(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('screenshots', sa.Text(), nullable=True),
    sa.Column('conversation', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['citizen_items.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('receipt_key')
    )
    with op.batch_alter_table('citizen_reports', schema=None) as batch_op:
        batch_op.create_index('ix_citizen_reports_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_citizen_reports_item_id', ['item_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('citizen_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_citizen_reports_item_id')
        batch_op.drop_index('ix_citizen_reports_created_at')
    op.drop_table('citizen_reports')
    with op.batch_alter_table('citizen_items', schema=None) as batch_op:
        batch_op.drop_index('ix_citizen_items_processed_at')
        batch_op.drop_index('ix_citizen_items_post_id')
    op.drop_table('citizen_items')
