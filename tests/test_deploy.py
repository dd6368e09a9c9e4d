"""What can be tested of the service set-up without a container runtime: the image's entry point,
its health check command against the real HTTP app, the environment contract, and quiet logs."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

import bot.cli
from bot.channels.http import build_http_app
from bot.cli import app
from bot.cli.server import start_line
from bot.cli.support import configure_logging
from bot.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = (ROOT / "compose.yaml").read_text(encoding="utf-8")
UNIT = (ROOT / "deploy" / "gongjian.service").read_text(encoding="utf-8")
NGINX = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def instruction(name: str) -> str:
    """Returns a Dockerfile instruction's argument (continuation lines joined), the last one given."""
    joined = DOCKERFILE.replace("\\\n", " ")
    found = re.findall(rf"^{name}\s+(.*)$", joined, flags=re.MULTILINE)
    assert found, name
    return str(found[-1])


def test_the_image_runs_gongjian_run_as_a_non_root_user() -> None:
    assert json.loads(instruction("ENTRYPOINT")) == ["gongjian"]
    assert json.loads(instruction("CMD")) == ["run"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert scripts["gongjian"] == "bot.cli:main"
    assert instruction("USER") not in {"root", "0"}
    assert instruction("FROM").startswith("python:3.11-slim")
    # Every package the code lives in, and the message catalogs, are in the build context.
    for package in ("bot", "handlers", "storage", "scheduler", "locales"):
        assert f"COPY {package} {package}" in DOCKERFILE
    result = CliRunner().invoke(app, ["run", "--help"])
    assert result.exit_code == 0 and "Runs every configured channel" in result.output


class Core:
    """The part of the core `/healthz` asks: whether the database answers."""

    def __init__(self, healthy: bool) -> None:
        self.answer = healthy

    def healthy(self) -> bool:
        """Answers as told."""
        return self.answer


def free_port() -> int:
    """Returns a port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def serve() -> Iterator[object]:
    """Serves the shared HTTP app on a free port in a thread; yields a starter taking `healthy`."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(healthy: bool) -> int:
        port = free_port()
        config = uvicorn.Config(
            build_http_app(Core(healthy)),  # type: ignore[arg-type]
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.02)
        servers.append((server, thread))
        return port

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def health_check(port: int) -> int:
    """Runs the image's HEALTHCHECK command with the port in its environment; returns its status."""
    command = json.loads(instruction("HEALTHCHECK").split(" CMD ", 1)[1])
    assert command[0] == "python"
    env = {**os.environ, "GONGJIAN_HTTP_PORT": str(port)}
    return subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, timeout=30, check=False
    ).returncode


def test_the_health_check_command_follows_healthz(serve: object) -> None:
    start = serve
    assert health_check(start(True)) == 0  # type: ignore[operator]
    assert health_check(start(False)) != 0  # type: ignore[operator]  # 503: database unreachable
    assert health_check(free_port()) != 0  # nothing listening


def settings_fields() -> set[str]:
    """Lists the environment variables the settings read."""
    return {f"GONGJIAN_{name.upper()}" for name in Settings.model_fields}


def test_every_variable_the_deployment_files_set_is_a_setting_and_documented() -> None:
    used = set(re.findall(r"GONGJIAN_[A-Z_]+", DOCKERFILE + COMPOSE + UNIT + NGINX))
    assert used, "the deployment files set no variable"
    assert used <= settings_fields(), used - settings_fields()
    documented = set(re.findall(r"GONGJIAN_[A-Z_]+", README))
    # Every setting is in the README's table (groups are written GONGJIAN_WECHAT_TOKEN, `_AES_KEY`...).
    prefixes = {name.rsplit("_", 1)[0] for name in documented}
    missing = {
        name
        for name in settings_fields()
        if name not in documented and not any(name.startswith(p + "_") for p in prefixes)
    }
    assert missing == set()


def test_the_image_listens_where_compose_and_the_proxy_look() -> None:
    assert "GONGJIAN_HTTP_HOST=0.0.0.0" in DOCKERFILE and "GONGJIAN_HTTP_PORT=8080" in DOCKERFILE
    assert "EXPOSE 8080" in DOCKERFILE
    assert '"127.0.0.1:8080:8080"' in COMPOSE
    assert "server 127.0.0.1:8080;" in NGINX
    for path in ("/telegram/webhook", "/wechat", "/wecom", "/files/", "/calendar/", "/healthz"):
        assert path in NGINX, path
    compose_url = re.search(r"GONGJIAN_DATABASE_URL: (\S+)", COMPOSE)
    assert compose_url is not None
    url = compose_url.group(1).replace("${POSTGRES_PASSWORD}", "secret")
    assert load_settings(database_url=url, _env_file=None).database_url.startswith("postgresql")


def test_the_start_line_names_channels_and_database_without_the_password() -> None:
    settings = load_settings(
        database_url="postgresql+psycopg://gongjian:s3cret@db:5432/gongjian",
        wecom_token="t",
        wecom_corp_id="c",
        wecom_agent_id=1,
        wecom_secret="s",
        wecom_aes_key="a" * 43,
        _env_file=None,
    )
    line = start_line(settings)
    assert "s3cret" not in line
    metrics = start_line(settings.model_copy(update={"metrics_port": 9108}))
    assert metrics.endswith("; scheduler on; metrics 127.0.0.1:9108")
    assert line == (
        "starting: channels wecom; database postgresql+psycopg://gongjian:***@db:5432/gongjian;"
        " http 127.0.0.1:8080; scheduler on"
    )


def test_library_chatter_is_quiet_unless_debugging(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("alembic", "apscheduler", "uvicorn"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    monkeypatch.setattr(bot.cli, "_logging_ready", False)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    configure_logging("INFO")
    assert logging.getLogger("apscheduler").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("uvicorn.error").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("alembic").getEffectiveLevel() == logging.WARNING
