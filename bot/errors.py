"""Errors the bot reports to users, one line each.

    BotError
    ├── ConfigError        a config or watchlist file is wrong (names file, line, key)
    ├── SourceError        a source could not deliver documents
    │   ├── FetchError     reading a file or URL failed
    │   │   └── Stopping   the bot is stopping, or (OutOfTime) the poll's time budget is spent
    │   └── ParseError     a document could not be turned into a meeting
    │       └── ExtractError   no text could be taken out of the bytes
    ├── StoreError         the database or the raw archive could not be opened, migrated or written
    └── PublishError       the feed folder could not be written

Messages are written for the person running the bot: what is wrong, where, and what to do.
An OSError the code did not expect still becomes one line at the command line's edge.
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot reports as one clear line."""


class ConfigError(BotError):
    """A configuration file is invalid."""


class SourceError(BotError):
    """A source failed to deliver documents."""


class FetchError(SourceError):
    """A file or URL could not be read."""


class Stopping(FetchError):
    """The bot is stopping: a request was not made, or not tried again. Not the source's fault."""


class OutOfTime(Stopping):
    """A source's poll used up its time budget: the rest is fetched at the next poll."""


class ParseError(SourceError):
    """A document could not be parsed into a meeting with items."""


class ExtractError(ParseError):
    """No usable text could be extracted from a document's bytes."""


class StoreError(BotError):
    """The store could not be opened, migrated or written."""


class PublishError(BotError):
    """A feed, the index page or a published document could not be written."""


def os_reason(exc: OSError) -> str:
    """What the OS said, as the middle of a sentence: "permission denied", "no space left on device"."""
    return exc.strerror.lower() if exc.strerror else str(exc)
