"""Local servers and a real browser for the tests of what readers see: a free port, the feed
server (with computed pages such as the search) in a thread, and Debian's headless chromium."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.publish.serve import Limits, Pages, make_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def feed_server(folder: Path, port: int = 0, limits: Limits | None = None, pages: Pages | None = None) -> Iterator[int]:
    """``referatvagt serve`` for ``folder`` in a thread of this process; yields its port."""
    server = make_server(folder, port=port, quiet=True, limits=limits or Limits(), pages=pages)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def chromium(profile: Path, *args: str) -> str:
    """Run headless chromium with its own profile folder; returns what it printed (``--dump-dom``)."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
