"""conversations, interactions, callbacks and opt-outs

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 05:19:25.056773

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    
    op.create_table('conversation',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('caller', sa.String(length=32), nullable=True),
    sa.Column('caller_raw', sa.String(length=64), nullable=True),
    sa.Column('call_sid', sa.String(length=64), nullable=True),
    sa.Column('flow_id', sa.String(length=64), nullable=False),
    sa.Column('flow_version', sa.String(length=32), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('rules_fired', sa.JSON(), nullable=False),
    sa.Column('disposition', sa.String(length=2), nullable=True),
    sa.Column('queue', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation')),
    sa.UniqueConstraint('call_sid', name=op.f('uq_conversation_call_sid'))
    )
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_caller'), ['caller'], unique=False)
        batch_op.create_index('ix_conversation_caller_channel_status', ['caller', 'channel', 'status'], unique=False)
        batch_op.create_index('ix_conversation_status_updated_at', ['status', 'updated_at'], unique=False)

    op.create_table('opt_out',
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('opted_out', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('phone', name=op.f('pk_opt_out'))
    )
    op.create_table('callback',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('queue', sa.String(length=16), nullable=False),
    sa.Column('disposition', sa.String(length=2), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_callback_conversation_id_conversation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback'))
    )
    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_callback_status_priority_due_at', ['status', 'priority', 'due_at'], unique=False)
        batch_op.create_index('uq_callback_open_phone', ['phone'], unique=True, sqlite_where=sa.text("status IN ('open', 'claimed')"), postgresql_where=sa.text("status IN ('open', 'claimed')"))

    op.create_table('interaction',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('node', sa.String(length=64), nullable=True),
    sa.Column('digits', sa.String(length=64), nullable=True),
    sa.Column('speech', sa.Text(), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('said', sa.Text(), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('dedupe_key', sa.String(length=160), nullable=True),
    sa.Column('reply', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_interaction_conversation_id_conversation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interaction')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_interaction_dedupe_key'))
    )
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interaction_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_interaction_created_at'), ['created_at'], unique=False)




def downgrade():
    
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interaction_created_at'))
        batch_op.drop_index(batch_op.f('ix_interaction_conversation_id'))

    op.drop_table('interaction')
    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.drop_index('uq_callback_open_phone', sqlite_where=sa.text("status IN ('open', 'claimed')"), postgresql_where=sa.text("status IN ('open', 'claimed')"))
        batch_op.drop_index('ix_callback_status_priority_due_at')
        batch_op.drop_index(batch_op.f('ix_callback_conversation_id'))

    op.drop_table('callback')
    op.drop_table('opt_out')
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_status_updated_at')
        batch_op.drop_index('ix_conversation_caller_channel_status')
        batch_op.drop_index(batch_op.f('ix_conversation_caller'))

    op.drop_table('conversation')

