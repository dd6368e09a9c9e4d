"""Telegram's logs: the bot token and webhook secret masked, chatty library loggers quieted."""

from __future__ import annotations

import logging
from typing import Any

_secrets: set[str] = set()


def redact_in_logs(*secrets: str) -> None:
    """Replaces each secret with `***` in every log record from now on, tracebacks included."""
    fresh = {secret for secret in secrets if secret} - _secrets
    if not fresh:
        return
    if not _secrets:
        _install_redacting_factory()
    _secrets.update(fresh)


def _redact(text: str) -> str:
    """Masks every known secret in `text`."""
    for secret in _secrets:
        text = text.replace(secret, "***")
    return text


def _install_redacting_factory() -> None:
    """Wraps the log record factory so that no handler ever sees a secret."""
    previous = logging.getLogRecordFactory()
    plain = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the handler's problem, not ours
            return record
        redacted = _redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            # Formatters reuse a cached exc_text, so masking it here covers every handler.
            record.exc_text = _redact(plain.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)


def quiet_library_logs() -> None:
    """Silences loggers that would print the bot token (httpx URLs) or members' messages."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    library = logging.getLogger("telegram")
    if library.level < logging.INFO:
        library.setLevel(logging.INFO)
