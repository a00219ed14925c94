"""Help text shared by the command modules: examples that work when copied."""

from __future__ import annotations

from typing import Protocol

from bot.config import Config


class HasConfig(Protocol):
    """The CLI's context object, as the command modules see it."""

    @property
    def config(self) -> Config: ...


def example(*commands: str, note: str = "") -> str:
    """An epilog: each command on a line of its own, exactly as typed (in a ``\\b`` paragraph,
    which click never rewraps: a wrap inside a quoted argument would break it when copied),
    then ``note`` wrapped as usual. A command may end in a shell comment (``# …``)."""
    head = "Example:" if len(commands) == 1 else "Examples:"
    lines = [f"{head} {commands[0]}"] if len(commands) == 1 else [head, *(f"  {command}" for command in commands)]
    return "\b\n" + "\n".join(lines) + (f"\n\n{note}" if note else "")
