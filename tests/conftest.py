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
