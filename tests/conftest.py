"""Shared test fixtures. ``../shared`` (real published minutes and portal responses) is used
when present; tests that need it skip cleanly when it is not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .portal import Server, running

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"
FIRSTAGENDA = SHARED / "firstagenda"


@pytest.fixture
def server() -> Iterator[Server]:
    """A local HTTP server (see tests/portal.py), running for one test."""
    with running(Server()) as srv:
        yield srv


POSTGRES_SERVER = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"  # trust auth, as on the CI machines


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A scratch PostgreSQL database for one test (dropped afterwards), as a SQLAlchemy URL.

    Skips when psycopg is not installed or no server answers on 127.0.0.1:5432."""
    import uuid

    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
    try:
        admin = psycopg.connect(POSTGRES_SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server on 127.0.0.1:5432 ({str(exc).strip().splitlines()[0]})")
    name = f"referatvagt_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
