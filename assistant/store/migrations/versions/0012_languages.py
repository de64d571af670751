"""languages: the language of each conversation (chosen or detected) and the languages counsellors speak

Revision ID: 0012
Revises: 0013
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=False, server_default='ko'))
        batch_op.add_column(sa.Column('language_chosen', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('languages', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('languages')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('language_chosen')
        batch_op.drop_column('language')
