"""translation revisions: every saved or reviewed version of a translated article, with the Korean version it follows

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('translation_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.String(length=100), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('action', sa.String(length=12), nullable=False),
    sa.Column('author', sa.String(length=60), nullable=False),
    sa.Column('source_hash', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('translation_revisions', schema=None) as batch_op:
        batch_op.create_index('ix_translation_revisions_article', ['article_id', 'lang', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('translation_revisions', schema=None) as batch_op:
        batch_op.drop_index('ix_translation_revisions_article')

    op.drop_table('translation_revisions')
