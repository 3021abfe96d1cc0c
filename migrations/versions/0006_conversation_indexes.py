"""conversation indexes that a turn does not rewrite

Every turn writes a conversation's updated_at. With an index on (status, updated_at) each turn
moved that index entry: on SQLite two more pages written per turn (a fifth of a turn's pages),
on PostgreSQL no heap-only update was possible. The idle sweep, the only reader, looks for
status = 'active' and checks updated_at on the few rows that are active: an index on status
alone serves it and changes only when a conversation starts or ends. The index on caller
alone duplicated the leading column of (caller, channel, status).

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_status_updated_at")
        batch_op.drop_index("ix_conversation_caller")
        batch_op.create_index("ix_conversation_status", ["status"], unique=False)


def downgrade():
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_status")
        batch_op.create_index("ix_conversation_caller", ["caller"], unique=False)
        batch_op.create_index("ix_conversation_status_updated_at", ["status", "updated_at"], unique=False)
