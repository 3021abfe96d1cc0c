"""a texter's conversation found by one index, whatever the planner knows of the table

A text looks for the number's newest active conversation (caller = ? AND channel = ? AND
status = 'active' ORDER BY id DESC LIMIT 1). With (caller, channel, status) the newest still had
to be sorted out, and PostgreSQL, planning that prepared statement while the table was new and
had no statistics, chose the index on status instead and kept that plan for the connection's
life: every text then read every active conversation (about 240 a lookup by the end of a
benchmark run, docs/benchmarks.md). With id as the index's last column the lookup is one
backward index step and no sort, the cheapest plan on any statistics. It serves every lookup
the old index served (by caller alone too).

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.create_index("ix_conversation_caller_channel_status_id", ["caller", "channel", "status", "id"],
                              unique=False)
        batch_op.drop_index("ix_conversation_caller_channel_status")


def downgrade():
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.create_index("ix_conversation_caller_channel_status", ["caller", "channel", "status"], unique=False)
        batch_op.drop_index("ix_conversation_caller_channel_status_id")
