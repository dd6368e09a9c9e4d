"""channel tables: offered numbered options leave channel_token for a table of their own

Revision ID: 0005
Revises: 0007
Create Date: 2026-12-05 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0005"
down_revision = "0007"
branch_labels = None
depends_on = None

# How the options were named among the access tokens: options:<channel>:<external id>.
OPTIONS_PREFIX = "options:"

tokens = sa.table(
    "channel_token",
    sa.column("name", sa.Text()),
    sa.column("token", sa.Text()),
    sa.column("expires_at", storage.types.UTCDateTime(timezone=True)),
    sa.column("refreshed_at", storage.types.UTCDateTime(timezone=True)),
)
offered = sa.table(
    "offered_option",
    sa.column("channel", sa.String(32)),
    sa.column("user_id", sa.String(128)),
    sa.column("options", sa.Text()),
    sa.column("expires_at", storage.types.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "offered_option",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "user_id", name=op.f("pk_offered_option")),
    )
    with op.batch_alter_table("offered_option", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_offered_option_expires_at"), ["expires_at"], unique=False
        )

    bind = op.get_bind()
    old = bind.execute(
        sa.select(tokens.c.name, tokens.c.token, tokens.c.expires_at).where(
            tokens.c.name.startswith(OPTIONS_PREFIX)
        )
    ).all()
    rows = []
    for name, options, expires_at in old:
        channel, _, user_id = name.removeprefix(OPTIONS_PREFIX).partition(":")
        if channel and user_id and len(channel) <= 32 and len(user_id) <= 128:
            rows.append(
                {
                    "channel": channel,
                    "user_id": user_id,
                    "options": options,
                    "expires_at": expires_at,
                }
            )
    if rows:
        op.bulk_insert(offered, rows)
    bind.execute(sa.delete(tokens).where(tokens.c.name.startswith(OPTIONS_PREFIX)))


def downgrade() -> None:
    bind = op.get_bind()
    rows = [
        {
            "name": f"{OPTIONS_PREFIX}{channel}:{user_id}",
            "token": options,
            "expires_at": expires_at,
            "refreshed_at": expires_at,
        }
        for channel, user_id, options, expires_at in bind.execute(
            sa.select(offered.c.channel, offered.c.user_id, offered.c.options, offered.c.expires_at)
        ).all()
    ]
    if rows:
        op.bulk_insert(tokens, rows)
    with op.batch_alter_table("offered_option", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offered_option_expires_at"))
    op.drop_table("offered_option")
