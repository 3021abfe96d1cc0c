"""data protection and operations: the data protection log

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "data_protection_event",
        sa.Column("id", BigId, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_protection_event")),
    )
    with op.batch_alter_table("data_protection_event", schema=None) as batch_op:
        batch_op.create_index("ix_data_protection_event_action_at", ["action", "at"], unique=False)


def downgrade():
    with op.batch_alter_table("data_protection_event", schema=None) as batch_op:
        batch_op.drop_index("ix_data_protection_event_action_at")
    op.drop_table("data_protection_event")
