"""What `gongjian run` holds in memory: the file writers' libraries load only when a file is made."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# openpyxl (~10 MiB resident) and python-docx with lxml (~7 MiB) write ledgers, templates and
# Word documents; the chat, the reminder tick and the web routes never need them.
WRITERS = ("openpyxl", "docx", "lxml")
# Builds what `gongjian run` builds (every channel on, the reminder jobs, the HTTP routes, the
# metrics server), answers a message and runs a reminder tick; prints the writers it loaded.
RUN = """
import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import bot.cli
from bot.config import load_settings
from bot.core.clock import FrozenClock
from bot.core.inbound import Channel, Inbound
from bot.engine.assembly import build_assistant
from bot.runner import assistant_services
from scheduler.service import plan_tick
from tests.fakes import wechat_api
from tests.fakes.telegram_api import TOKEN

settings = load_settings(
    database_url=sys.argv[1],
    telegram_token=TOKEN,
    wechat_token=wechat_api.TOKEN,
    wechat_app_id=wechat_api.APP_ID,
    wechat_app_secret=wechat_api.APP_SECRET,
    wecom_corp_id=wechat_api.CORP_ID,
    wecom_agent_id=wechat_api.AGENT_ID,
    wecom_secret=wechat_api.CORP_SECRET,
    wecom_token=wechat_api.TOKEN,
    wecom_aes_key=wechat_api.AES_KEY,
    metrics_port=9999,
    _env_file=None,
)
now = datetime(2026, 11, 3, 7, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
assistant = build_assistant(settings, clock=FrozenClock(now))
services = assistant_services(settings, assistant)
assistant.handle(Inbound(Channel.CONSOLE, chat_id="c", user_id="u", text="帮助"))
plan_tick(assistant.database, now=now, holidays=assistant.holidays, settings=settings)
print(json.dumps([service.name for service in services]))
print(json.dumps(sorted(name for name in sys.argv[2:] if name in sys.modules)))
"""


def loaded_by_run(tmp_path: Path) -> tuple[list[str], list[str]]:
    """Runs the start-up in a fresh interpreter; returns the services built and the writers loaded."""
    url = f"sqlite:///{tmp_path / 'run.db'}"
    done = subprocess.run(
        [sys.executable, "-c", RUN, url, *WRITERS],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    services, writers = done.stdout.strip().splitlines()[-2:]
    return json.loads(services), json.loads(writers)


def test_run_loads_no_file_writer(tmp_path: Path) -> None:
    services, writers = loaded_by_run(tmp_path)
    assert services == ["telegram", "wechat", "wecom", "reminders", "files", "metrics"]
    assert writers == []


def test_the_check_sees_a_writer_loaded() -> None:
    """The probe can fail: the writers' own modules load their libraries."""
    probe = "import json, sys; import bot.services.ledger_workbook, bot.services.word_documents; "
    probe += "print(json.dumps(sorted(n for n in sys.argv[1:] if n in sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe, *WRITERS],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    assert json.loads(done.stdout) == sorted(WRITERS)
