"""indexes the benchmarks asked for: callbacks by phone number

Escalating a case looks for the number's open callback (phone = ? AND status IN (?, ?)). With
the statuses as bound parameters neither SQLite nor a generic PostgreSQL plan can use the
partial unique index uq_callback_open_phone, so every escalation scanned the whole callback
table (docs/benchmarks.md). A plain index on phone serves that lookup and the case timeline's.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.create_index("ix_callback_phone", ["phone"], unique=False)


def downgrade():
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_phone")
