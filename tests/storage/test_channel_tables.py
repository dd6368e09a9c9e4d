"""Migration 0005: offered numbered options leave `channel_token` for a table of their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import text

from bot.core.inbound import Channel
from storage.channels import recall_options
from storage.engine import Database, alembic_config, make_engine, upgrade

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=30)


def test_offered_options_move_to_their_table_and_back(database_url: str) -> None:
    engine = make_engine(database_url, pool=False)
    try:
        command.downgrade(alembic_config(engine), "0004")
        with engine.begin() as connection:
            insert = text(
                "INSERT INTO channel_token (name, token, expires_at, refreshed_at)"
                " VALUES (:name, :token, :expires_at, :refreshed_at)"
            )
            # SQLite stores naive UTC (storage.types.UTCDateTime); PostgreSQL takes aware times.
            at = LATER.replace(tzinfo=None) if engine.dialect.name == "sqlite" else LATER
            for name, token in (
                ("options:wechat:o-1", '["leave:1", "cancel"]'),
                ("options:wecom:zhang:san", '["report"]'),
                ("wechat:wx-app", "ACCESS-TOKEN"),
            ):
                connection.execute(
                    insert, {"name": name, "token": token, "expires_at": at, "refreshed_at": at}
                )
        upgrade(engine)
        database = Database(engine)
        with database.session() as session:
            assert recall_options(session, channel=Channel.WECHAT, user_id="o-1", now=NOW) == [
                "leave:1",
                "cancel",
            ]
            # An external id may itself hold a colon: only the first one ends the channel.
            assert recall_options(session, channel=Channel.WECOM, user_id="zhang:san", now=NOW) == [
                "report"
            ]
        with engine.connect() as connection:
            names = connection.execute(text("SELECT name FROM channel_token")).scalars().all()
        assert names == ["wechat:wx-app"]

        command.downgrade(alembic_config(engine), "0004")
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT name, token FROM channel_token ORDER BY name")
            ).all()
        assert [tuple(row) for row in rows] == [
            ("options:wechat:o-1", '["leave:1", "cancel"]'),
            ("options:wecom:zhang:san", '["report"]'),
            ("wechat:wx-app", "ACCESS-TOKEN"),
        ]
    finally:
        upgrade(engine)
        engine.dispose()
