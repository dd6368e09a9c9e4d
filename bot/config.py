"""Settings: one pydantic `Settings`, read once at start-up from GONGJIAN_* variables and `.env`."""

from __future__ import annotations

import base64
import binascii
from datetime import time
from pathlib import Path
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.core.i18n import SUPPORTED_LOCALES

OFFICIAL_TELEGRAM_API = "https://api.telegram.org/bot"
OFFICIAL_WECHAT_API = "https://api.weixin.qq.com"
OFFICIAL_WECOM_API = "https://qyapi.weixin.qq.com"


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable in one line."""


def _check_aes_key(value: SecretStr | None, variable: str) -> None:
    """Refuses an EncodingAESKey that is not 43 characters of base64 (a 32-byte key)."""
    if value is None:
        return
    raw = value.get_secret_value()
    try:
        decoded = base64.b64decode(raw + "=", validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(raw) != 43 or len(decoded) != 32:
        raise ValueError(f"{variable} must be the 43-character EncodingAESKey from the platform")


class Settings(BaseSettings):
    """Every knob of the assistant; see the configuration table in README.md."""

    model_config = SettingsConfigDict(
        env_prefix="GONGJIAN_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///gongjian.db"
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh_CN"
    holidays_file: Path | None = None
    invite_ttl_hours: int = Field(default=72 * 2, ge=1, le=24 * 90)
    conversation_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)
    log_level: str = "INFO"

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    # `gongjian run` keeps its threads on one CPU once serving (see `bot.core.heap`).
    one_cpu: bool = True
    public_base_url: str | None = None

    telegram_token: SecretStr | None = None
    telegram_base_url: str = OFFICIAL_TELEGRAM_API
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_bot_username: str | None = None

    wechat_token: SecretStr | None = None
    wechat_aes_key: SecretStr | None = None
    # With the AES key set, plaintext callbacks are refused unless this is on. Compatible mode is
    # weaker: a plaintext message's signature covers the URL, not the body.
    wechat_compatible_mode: bool = False
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_api_base: str = OFFICIAL_WECHAT_API
    wechat_template_id: str | None = None

    wecom_corp_id: str | None = None
    wecom_agent_id: int | None = None
    wecom_secret: SecretStr | None = None
    wecom_token: SecretStr | None = None
    wecom_aes_key: SecretStr | None = None
    wecom_api_base: str = OFFICIAL_WECOM_API

    retention_days: int = Field(default=365 * 3, ge=30, le=365 * 30)
    points_checkin: int = Field(default=2, ge=0, le=100)
    points_report: int = Field(default=3, ge=0, le=100)
    points_theme_day: int = Field(default=5, ge=0, le=100)
    download_link_minutes: int = Field(default=60, ge=1, le=24 * 60)
    # Photos sent as evidence: where they are kept (default: a photos folder next to a SQLite
    # database file, else ./photos) and how large one may be.
    photos_dir: Path | None = None
    photo_max_mb: int = Field(default=10, ge=1, le=50)
    console_idle_minutes: int = Field(default=30, ge=5, le=24 * 60)
    # Check-in opens this long before a meeting starts (or when the secretary opens it) and
    # counts as on time until this long after the start; later check-ins are marked late
    # (迟到) or refused.
    checkin_opens_before_minutes: int = Field(default=30, ge=0, le=24 * 60)
    checkin_on_time_minutes: int = Field(default=15, ge=0, le=24 * 60)
    checkin_late: Literal["late", "refuse"] = "late"

    scheduler_enabled: bool = True
    # /metrics (Prometheus) listens only when a port is given, apart from the webhooks' server.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    quiet_hours_start: time = time(22, 0)
    quiet_hours_end: time = time(7, 30)

    @property
    def photo_root(self) -> Path:
        """Returns the folder photos are stored under."""
        if self.photos_dir is not None:
            return self.photos_dir
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            return Path(url.database).resolve().parent / "photos"
        return Path("photos").resolve()

    @property
    def photo_max_bytes(self) -> int:
        """Returns the largest photo accepted, in bytes."""
        return self.photo_max_mb * 1024 * 1024

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (try Asia/Shanghai)") from exc
        return value

    @field_validator("default_locale")
    @classmethod
    def _supported_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(
                f"unsupported locale {value!r}; choose one of {', '.join(SUPPORTED_LOCALES)}"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError("not a database URL (e.g. sqlite:///gongjian.db)") from exc
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        if url.get_backend_name() == "postgresql" and url.drivername != "postgresql+psycopg":
            if url.drivername not in ("postgresql", "postgres"):
                raise ValueError("use the psycopg 3 driver: postgresql+psycopg://user@host/db")
            # A bare postgresql:// URL means psycopg 3, the only PostgreSQL driver we ship.
            return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return value

    @model_validator(mode="after")
    def _channels_complete(self) -> Self:
        if self.telegram_webhook_url and not self.telegram_webhook_secret:
            raise ValueError(
                "GONGJIAN_TELEGRAM_WEBHOOK_SECRET is required when GONGJIAN_TELEGRAM_WEBHOOK_URL is set"
            )
        _check_aes_key(self.wechat_aes_key, "GONGJIAN_WECHAT_AES_KEY")
        _check_aes_key(self.wecom_aes_key, "GONGJIAN_WECOM_AES_KEY")
        if self.wechat_token and not (self.wechat_app_id and self.wechat_app_secret):
            raise ValueError(
                "GONGJIAN_WECHAT_APP_ID and GONGJIAN_WECHAT_APP_SECRET are required with GONGJIAN_WECHAT_TOKEN"
            )
        if self.wechat_aes_key and not self.wechat_token:
            raise ValueError("GONGJIAN_WECHAT_TOKEN is required with GONGJIAN_WECHAT_AES_KEY")
        if self.wecom_token and not (
            self.wecom_corp_id and self.wecom_secret and self.wecom_aes_key
        ):
            raise ValueError(
                "GONGJIAN_WECOM_CORP_ID, GONGJIAN_WECOM_SECRET and GONGJIAN_WECOM_AES_KEY are required"
                " with GONGJIAN_WECOM_TOKEN"
            )
        if self.wecom_token and self.wecom_agent_id is None:
            raise ValueError("GONGJIAN_WECOM_AGENT_ID is required with GONGJIAN_WECOM_TOKEN")
        return self

    @property
    def tz(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    @property
    def public_url(self) -> str:
        """The base URL links are built from: the configured one, else the HTTP host and port."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = f"[{self.http_host}]" if ":" in self.http_host else self.http_host
        return f"http://{host}:{self.http_port}"

    @property
    def telegram_enabled(self) -> bool:
        """Tells whether a Telegram bot token is configured."""
        return self.telegram_token is not None

    @property
    def wechat_enabled(self) -> bool:
        """Tells whether the WeChat official account is configured."""
        return self.wechat_token is not None

    @property
    def wecom_enabled(self) -> bool:
        """Tells whether the WeCom app is configured."""
        return self.wecom_token is not None


def load_settings(**overrides: object) -> Settings:
    """Builds the settings, turning a validation failure into one clear `ConfigError` line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if not field:
            # Cross-field checks name their variables in the message itself.
            raise ConfigError(message) from None
        raise ConfigError(f"GONGJIAN_{field.upper()}: {message}") from None
