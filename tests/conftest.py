"""Shared test fixtures. ``../shared`` (real published minutes and portal responses) is used
when present; tests that need it skip cleanly when it is not."""

from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"
FIRSTAGENDA = SHARED / "firstagenda"
