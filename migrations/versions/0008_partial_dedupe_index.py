"""the log's request keys in a unique index that leaves out the rows without one

Every turn logs two rows: the request, with its key, and what the help line said, without. The
unique constraint indexed both, so each turn wrote the rows without a key into the index too (on
SQLite the last page of their run of NULLs, on every commit). A partial unique index holds only
the keys: the same guarantee for every request, half the entries. Lookups by key (a retry's
replay) use it, as `dedupe_key = ?` implies `dedupe_key IS NOT NULL` on both databases.

On PostgreSQL the new index is built CONCURRENTLY, before the constraint goes: the help line
keeps logging turns while it builds (a plain CREATE INDEX would hold their INSERTs; 0.7 s a
million interactions here), and there is no moment without a unique key. On SQLite the table is
rebuilt (a UNIQUE constraint cannot be dropped in place), which holds the database's write lock
throughout: about 8 s a million interactions here, so release at a quiet time.

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
    if op.get_context().dialect.name == "postgresql":
        with op.get_context().autocommit_block():  # CONCURRENTLY cannot run in a transaction
            op.create_index("ix_interaction_dedupe_key", "interaction", ["dedupe_key"], unique=True,
                            postgresql_where=WHERE, postgresql_concurrently=True)
        op.drop_constraint("uq_interaction_dedupe_key", "interaction", type_="unique")
        return
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.drop_constraint("uq_interaction_dedupe_key", type_="unique")
        batch_op.create_index("ix_interaction_dedupe_key", ["dedupe_key"], unique=True,
                              sqlite_where=WHERE)


def downgrade():
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.drop_index("ix_interaction_dedupe_key")
        batch_op.create_unique_constraint("uq_interaction_dedupe_key", ["dedupe_key"])
