"""staff accounts, callback claims, attempts, outcomes and audit

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("session_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_email")),
    )

    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("first_attempt_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("unreachable_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("closed_by_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_callback_claimed_by_id"), ["claimed_by_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_callback_claimed_by_id_staff"), "staff", ["claimed_by_id"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_callback_closed_by_id_staff"), "staff", ["closed_by_id"], ["id"])

    op.create_table(
        "callback_attempt",
        sa.Column("id", BigId, nullable=False),
        sa.Column("callback_id", BigId, nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("staff_leg", sa.String(length=16), nullable=True),
        sa.Column("result", sa.String(length=20), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["callback_id"], ["callback.id"], name=op.f("fk_callback_attempt_callback_id_callback")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_callback_attempt_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_attempt")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_callback_attempt_call_sid")),
    )
    with op.batch_alter_table("callback_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callback_attempt_callback_id"), ["callback_id"], unique=False)

    op.create_table(
        "callback_outcome",
        sa.Column("id", BigId, nullable=False),
        sa.Column("callback_id", BigId, nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["callback_id"], ["callback.id"], name=op.f("fk_callback_outcome_callback_id_callback")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_callback_outcome_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_outcome")),
    )
    with op.batch_alter_table("callback_outcome", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callback_outcome_callback_id"), ["callback_id"], unique=False)

    op.create_table(
        "case_note",
        sa.Column("id", BigId, nullable=False),
        sa.Column("callback_id", BigId, nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["callback_id"], ["callback.id"], name=op.f("fk_case_note_callback_id_callback")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_case_note_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_note")),
    )
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_note_callback_id"), ["callback_id"], unique=False)

    op.create_table(
        "audit_event",
        sa.Column("id", BigId, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("callback_id", BigId, nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_audit_event_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_event_staff_id_at", ["staff_id", "at"], unique=False)
        batch_op.create_index("ix_audit_event_phone_at", ["phone", "at"], unique=False)


def downgrade():
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_phone_at")
        batch_op.drop_index("ix_audit_event_staff_id_at")
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))
    op.drop_table("audit_event")

    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_note_callback_id"))
    op.drop_table("case_note")

    with op.batch_alter_table("callback_outcome", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_outcome_callback_id"))
    op.drop_table("callback_outcome")

    with op.batch_alter_table("callback_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_attempt_callback_id"))
    op.drop_table("callback_attempt")

    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_callback_closed_by_id_staff"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_callback_claimed_by_id_staff"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_callback_claimed_by_id"))
        batch_op.drop_column("closed_by_id")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("outcome")
        batch_op.drop_column("unreachable_at")
        batch_op.drop_column("first_attempt_at")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by_id")

    op.drop_table("staff")
