"""Throwaway databases for benchmarks: a SQLite file in a temporary folder, a private PostgreSQL schema."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.engine import make_engine, upgrade

POSTGRES_ENV = ("GONGJIAN_BENCH_POSTGRES_URL", "GONGJIAN_TEST_POSTGRES_URL")


def postgres_base_url(given: str | None = None) -> str | None:
    """Returns the PostgreSQL URL to benchmark on: the one given, else from the environment."""
    if given:
        return given
    for name in POSTGRES_ENV:
        value = os.environ.get(name)
        if value:
            return value
    return None


@contextmanager
def sqlite_database(folder: Path | None = None, name: str = "bench.db") -> Iterator[str]:
    """Yields the URL of a migrated SQLite file that is deleted afterwards."""
    own = folder is None
    where = Path(tempfile.mkdtemp(prefix="gongjian-bench-")) if folder is None else folder
    path = where / name
    engine = make_engine(f"sqlite:///{path}", pool=False)
    upgrade(engine)
    engine.dispose()
    try:
        yield f"sqlite:///{path}"
    finally:
        if own:
            shutil.rmtree(where, ignore_errors=True)


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    """Yields the URL of a migrated private schema on PostgreSQL, dropped afterwards."""
    schema = f"gj_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base_url, pool=False)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    try:
        engine = make_engine(rendered, pool=False)
        upgrade(engine)
        engine.dispose()
        yield rendered
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def database(backend: str, postgres_url: str | None = None) -> Iterator[str]:
    """Yields a fresh migrated database URL on `backend` (`sqlite` or `postgresql`)."""
    if backend == "sqlite":
        with sqlite_database() as url:
            yield url
        return
    if not postgres_url:
        raise ValueError("PostgreSQL needs a URL (--postgres or GONGJIAN_BENCH_POSTGRES_URL)")
    with postgres_database(postgres_url) as url:
        yield url


def backend_of(url: str) -> str:
    """Names the backend of a database URL."""
    return make_url(url).get_backend_name()
