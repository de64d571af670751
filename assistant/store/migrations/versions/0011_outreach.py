"""detection outreach (watcher): flagged accounts and contacts, drafted messages, sends

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('detection_outreach_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('platform', sa.String(length=30), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('minor', sa.Boolean(), nullable=False),
    sa.Column('minor_by', sa.String(length=60), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['detection_reports.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'platform', 'key_hash', name='uq_outreach_target')
    )
    op.create_table('detection_outreach_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['detection_posts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['detection_outreach_targets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('target_id', 'post_id', name='uq_outreach_flag')
    )
    op.create_table('detection_outreach_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('minor_author', sa.Boolean(), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['detection_posts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('post_id')
    )
    op.create_table('detection_outreach_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('template', sa.String(length=30), nullable=False),
    sa.Column('platform', sa.String(length=30), nullable=False),
    sa.Column('via', sa.String(length=12), nullable=False),
    sa.Column('recipient', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('target_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=60), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('remote_id', sa.String(length=64), nullable=True),
    sa.Column('error', sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['detection_posts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['detection_outreach_targets.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('detection_outreach_drafts', schema=None) as batch_op:
        batch_op.create_index('ix_outreach_drafts_status', ['status'], unique=False)
    op.create_table('detection_outreach_sends',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('target_hash', sa.String(length=64), nullable=False),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['detection_outreach_drafts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('draft_id'),
    sa.UniqueConstraint('target_hash', 'text_hash', name='uq_outreach_once')
    )


def downgrade() -> None:
    op.drop_table('detection_outreach_sends')
    with op.batch_alter_table('detection_outreach_drafts', schema=None) as batch_op:
        batch_op.drop_index('ix_outreach_drafts_status')
    op.drop_table('detection_outreach_drafts')
    op.drop_table('detection_outreach_posts')
    op.drop_table('detection_outreach_flags')
    op.drop_table('detection_outreach_targets')
