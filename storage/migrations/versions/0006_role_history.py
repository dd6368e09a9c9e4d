"""role history and the alliance's convener rotation

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-05 16:00:00.000000
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "role_term",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_role_term_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_role_term_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_term")),
    )
    with op.batch_alter_table("role_term", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_role_term_member_id"), ["member_id"], unique=False)
        batch_op.create_index("ix_role_term_org_role", ["organization_id", "role"], unique=False)
    with op.batch_alter_table("alliance", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("convener_rotation", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    _backfill_terms()


def _backfill_terms() -> None:
    """Starts a term for every leading role held today, from the day its member was recorded."""
    bind = op.get_bind()
    role = sa.table(
        "role",
        sa.column("organization_id", sa.Integer()),
        sa.column("member_id", sa.Integer()),
        sa.column("role", sa.String()),
    )
    member = sa.table("member", sa.column("id", sa.Integer()), sa.column("created_at"))
    term = sa.table(
        "role_term",
        sa.column("organization_id", sa.Integer()),
        sa.column("member_id", sa.Integer()),
        sa.column("role", sa.String()),
        sa.column("started_on", sa.Date()),
    )
    rows = bind.execute(
        sa.select(role.c.organization_id, role.c.member_id, role.c.role, member.c.created_at)
        .join(member, member.c.id == role.c.member_id)
        .where(role.c.role != "member")
    ).all()
    values = [
        {
            "organization_id": org_id,
            "member_id": member_id,
            "role": kind,
            "started_on": _day(created_at),
        }
        for org_id, member_id, kind, created_at in rows
    ]
    if values:
        bind.execute(term.insert(), values)


def _day(value: object) -> date:
    """Reads a stored timestamp's date (SQLite hands back text, PostgreSQL a datetime)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def downgrade() -> None:
    with op.batch_alter_table("alliance", schema=None) as batch_op:
        batch_op.drop_column("convener_rotation")
    with op.batch_alter_table("role_term", schema=None) as batch_op:
        batch_op.drop_index("ix_role_term_org_role")
        batch_op.drop_index(batch_op.f("ix_role_term_member_id"))
    op.drop_table("role_term")
