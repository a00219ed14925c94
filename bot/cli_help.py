"""What the command modules share: examples that work when copied, the watchlists in force
with their errors shown, and how a sending command ends."""

from __future__ import annotations

import sys
from typing import NoReturn, Protocol

import click

from bot.config import Config
from bot.match.matches import effective_watchlists
from bot.match.watchlists import Watchlist
from bot.publish.claims import SendReport
from bot.store import Store


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


def watchlists_in_force(store: Store, config: Config) -> tuple[list[Watchlist], list[str]]:
    """The watchlists in force (see :func:`bot.match.matches.effective_watchlists`); each broken
    file's error is printed on stderr, and returned."""
    watchlists, errors = effective_watchlists(store, config.bot.watchlists_dir)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    return watchlists, errors


def exit_after_sending(report: SendReport, watchlist_errors: list[str]) -> NoReturn:
    """Print a sending run's errors and summary; exit 1 if a message failed, 3 if only a
    watchlist file has an error, else 0."""
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    click.echo(report.summary())
    sys.exit(1 if report.errors else 3 if watchlist_errors else 0)
