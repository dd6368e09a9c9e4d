"""Settings: defaults, and one clear line naming the variable for every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(_env_file=None)
    assert settings.database_url == "sqlite:///gongjian.db"
    assert settings.timezone == "Asia/Shanghai" and settings.default_locale == "zh_CN"
    assert not settings.telegram_enabled and not settings.wechat_enabled


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("GONGJIAN_TIMEZONE", "Mars/Olympus", "GONGJIAN_TIMEZONE: unknown time zone"),
        ("GONGJIAN_DATABASE_URL", "not a url", "GONGJIAN_DATABASE_URL: not a database URL"),
        ("GONGJIAN_DATABASE_URL", "mysql://x@y/z", "GONGJIAN_DATABASE_URL: only sqlite"),
        (
            "GONGJIAN_DATABASE_URL",
            "postgresql+asyncpg://x@y/z",
            "GONGJIAN_DATABASE_URL: use the psycopg 3 driver",
        ),
        ("GONGJIAN_DEFAULT_LOCALE", "fr", "GONGJIAN_DEFAULT_LOCALE: unsupported locale"),
        ("GONGJIAN_HTTP_PORT", "70000", "GONGJIAN_HTTP_PORT"),
        ("GONGJIAN_WECHAT_AES_KEY", "short", "GONGJIAN_WECHAT_AES_KEY must be the 43-character"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_plain_postgresql_url_means_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGJIAN_DATABASE_URL", "postgresql://x@y/z")
    assert load_settings(_env_file=None).database_url == "postgresql+psycopg://x@y/z"


def test_webhook_needs_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGJIAN_TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("GONGJIAN_TELEGRAM_WEBHOOK_URL", "https://example.org/telegram/webhook")
    with pytest.raises(ConfigError, match="GONGJIAN_TELEGRAM_WEBHOOK_SECRET"):
        load_settings(_env_file=None)


def test_secrets_are_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGJIAN_TELEGRAM_TOKEN", "123:very-secret")
    settings = load_settings(_env_file=None)
    assert "very-secret" not in repr(settings) and "very-secret" not in str(settings.model_dump())


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("GONGJIAN_DEFAULT_LOCALE=en\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_settings().default_locale == "en"
