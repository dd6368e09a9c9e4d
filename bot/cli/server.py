"""`gongjian run`: every configured channel and the HTTP server, until stopped."""

from __future__ import annotations

import asyncio
import errno
import logging

import typer

from bot.cli.support import fail, friendly, settings_from_env
from bot.config import Settings
from storage.engine import masked_url

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    """Mounts `gongjian run` on the app."""
    app.command("run")(run)


@friendly
def run() -> None:
    """Runs every configured channel and the HTTP server until stopped (Ctrl-C or SIGTERM)."""
    from bot.engine.assembly import build_assistant  # noqa: PLC0415 (loads every handler; only run needs it)
    from bot.runner import assistant_services, serve  # noqa: PLC0415 (uvicorn loads only here)

    settings = settings_from_env()
    if not (settings.telegram_enabled or settings.wechat_enabled or settings.wecom_enabled):
        # Still worth running: the web console and the reminder jobs need no chat channel.
        log.warning(
            "no chat channel is configured (GONGJIAN_TELEGRAM_TOKEN, GONGJIAN_WECHAT_TOKEN or"
            " GONGJIAN_WECOM_TOKEN): serving the web console at %s/console and the scheduler",
            settings.public_url,
        )
    assistant = build_assistant(settings)
    log.info("%s", start_line(settings))
    try:
        asyncio.run(serve(settings, assistant, assistant_services(settings, assistant)))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        if error.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        fail(
            f"GONGJIAN_HTTP_PORT: cannot listen on {settings.http_host}:{settings.http_port}:"
            f" {error.strerror or error}"
        )
    finally:
        # Deliveries still queued for a shared commit are answered before the database goes.
        assistant.close()
        assistant.database.dispose()


def start_line(settings: Settings) -> str:
    """Describes what `gongjian run` starts, in one line: channels, database (no password), HTTP."""
    channels = [
        name
        for name, enabled in (
            ("telegram", settings.telegram_enabled),
            ("wechat", settings.wechat_enabled),
            ("wecom", settings.wecom_enabled),
        )
        if enabled
    ]
    return (
        f"starting: channels {', '.join(channels) or 'none'};"
        f" database {masked_url(settings.database_url)};"
        f" http {settings.http_host}:{settings.http_port};"
        f" scheduler {'on' if settings.scheduler_enabled else 'off'}"
        + (
            f"; metrics {settings.metrics_host}:{settings.metrics_port}"
            if settings.metrics_port is not None
            else ""
        )
    )
