"""Shared test fixtures. ``../shared`` (real published minutes and portal responses) is used
when present; tests that need it skip cleanly when it is not.

Databases: a test module that uses the store runs its tests on SQLite and on PostgreSQL with
``pytestmark = pytest.mark.usefixtures("database")``; each test's id says which
(``test_x[sqlite]``, ``test_x[postgresql]``). A test that is SQLite's alone (WAL files, the file
lock, a backup to a .db file) is marked ``@pytest.mark.sqlite_only`` and says why in its docstring.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

from . import helpers
from .portal import Server, running
from .test_email import smtp  # noqa: F401 (the real SMTP server fixture, for every module)

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"
FIRSTAGENDA = SHARED / "firstagenda"

DATABASES = ("sqlite", "postgresql")
POSTGRES_SERVER = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"  # trust auth, as on the CI machines


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: runs on SQLite only (the docstring says why)")
    config.addinivalue_line("markers", "postgresql_only: runs on PostgreSQL only (several workers at once)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses the ``database`` fixture runs once per database, ids as the names."""
    if "database" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker
        kinds = (
            ["sqlite"] if marker("sqlite_only") else ["postgresql"] if marker("postgresql_only") else list(DATABASES)
        )
        metafunc.parametrize("database", kinds, ids=kinds, indirect=True)


@pytest.fixture
def server() -> Iterator[Server]:
    """A local HTTP server (see tests/portal.py), running for one test."""
    with running(Server()) as srv:
        yield srv


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def no_postgres(reason: str) -> NoReturn:
    """Skip: the PostgreSQL tests are optional on a developer's machine, but not on CI, where a
    skipped PostgreSQL test would let a PostgreSQL bug through unseen."""
    message = f"no PostgreSQL server on 127.0.0.1:5432 ({reason})"
    if on_ci():
        pytest.fail(f"CI needs PostgreSQL at 127.0.0.1:5432 (trust auth, user postgres): {message}", pytrace=False)
    pytest.skip(message)


def _connect() -> tuple[Any, str]:
    """A connection to the server's own database, or None and why not."""
    try:
        import psycopg
    except ImportError:
        return None, "psycopg is not installed: pip install -e '.[test]'"
    try:
        return psycopg.connect(POSTGRES_SERVER, autocommit=True, connect_timeout=3), ""
    except psycopg.OperationalError as exc:
        return None, str(exc).strip().splitlines()[0]


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database as a SQLAlchemy URL, dropped afterwards."""
    admin, reason = _connect()
    if admin is None:
        no_postgres(reason)  # outside the except: on CI the failure is one line, not a chain
    name = f"referatvagt_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # FORCE: a test's leftover connections


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A scratch PostgreSQL database for one test (dropped afterwards), as a SQLAlchemy URL.

    Skips when psycopg is not installed or no server answers on 127.0.0.1:5432 (fails on CI)."""
    with scratch_postgres() as url:
        yield url


@pytest.fixture
def database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The database URL this test's config uses: "" for SQLite (the default file under
    state_dir), or a scratch PostgreSQL database. ``write_config`` and ``write_portal_config``
    write it into the configs they make."""
    if getattr(request, "param", "sqlite") == "sqlite":
        monkeypatch.setattr(helpers, "DATABASE_URL", "")
        yield ""
        return
    with scratch_postgres() as url:
        monkeypatch.setattr(helpers, "DATABASE_URL", url)
        yield url


@pytest.fixture
def another_database(database: str) -> Iterator[Callable[[], str]]:
    """For a test that compares stores: each call gives one more empty database of the test's kind,
    to pass as ``write_config(..., database_url=...)`` ("" on SQLite: each state_dir has its own file)."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(scratch_postgres()) if database else ""
