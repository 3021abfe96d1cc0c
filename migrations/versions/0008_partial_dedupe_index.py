"""the log's request keys in a unique index that leaves out the rows without one

Every turn logs two rows: the request, with its key, and what the help line said, without. The
unique constraint indexed both, so each turn wrote the rows without a key into the index too (on
SQLite the last page of their run of NULLs, on every commit). A partial unique index holds only
the keys: the same guarantee for every request, half the entries. Lookups by key (a retry's
replay) use it, as `dedupe_key = ?` implies `dedupe_key IS NOT NULL` on both databases.

On SQLite the table is rebuilt (a UNIQUE constraint cannot be dropped in place): a large log takes
a while, once.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

WHERE = sa.text("dedupe_key IS NOT NULL")


def upgrade():
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.drop_constraint("uq_interaction_dedupe_key", type_="unique")
        batch_op.create_index("ix_interaction_dedupe_key", ["dedupe_key"], unique=True,
                              sqlite_where=WHERE, postgresql_where=WHERE)


def downgrade():
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.drop_index("ix_interaction_dedupe_key")
        batch_op.create_unique_constraint("uq_interaction_dedupe_key", ["dedupe_key"])
