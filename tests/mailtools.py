"""SMTP inboxes for the multi-worker tests (aiosmtpd, see tests/test_email.py): a slow relay, so
that several workers are sending at the same time, and one that SIGKILLs the process sending a
message while it holds that message, before accepting it."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from .test_email import Inbox


@dataclass
class SlowInbox(Inbox):
    """Answers each RCPT only after ``delay`` seconds (without blocking other connections)."""

    delay: float = 0.5

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        await asyncio.sleep(self.delay)
        return await super().handle_RCPT(server, session, envelope, address, options)


@dataclass
class HoldingInbox(SlowInbox):
    """When ``armed``: holds the next message it is given, SIGKILLs the process that sent it (one
    of ``pids``) and never accepts it; that process's claim on the message must run out before
    any other worker sends it again."""

    pids: list[int] = field(default_factory=list)
    armed: bool = False
    killed: list[tuple[int, str]] = field(default_factory=list)  # (pid, Message-ID) of each held message

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if not self.armed:
            return await super().handle_DATA(server, session, envelope)
        self.armed = False
        pid = client_pid(session.peer[1], self.pids)
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        os.kill(pid, signal.SIGKILL)
        self.killed.append((pid, str(message["Message-ID"])))
        return "451 4.3.0 not accepted"  # nobody reads it: the sender is gone


def client_pid(port: int, pids: Iterable[int]) -> int:
    """Which of ``pids`` owns the local TCP socket on ``port``: the client of one of our connections.

    Linux only (/proc): the server knows the client's port, /proc/net/tcp maps it to a socket inode,
    and a process's /proc/<pid>/fd links name the inodes of its sockets."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:  # closed since listed
                continue
    raise LookupError(f"no process of {list(pids)} has a socket on port {port}")
