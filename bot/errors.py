"""Errors the bot reports to users, one line each.

    BotError
    ├── ConfigError        a config or watchlist file is wrong (names file, line, key)
    ├── SourceError        a source could not deliver documents
    │   ├── FetchError     reading a file or URL failed
    │   └── ParseError     a document could not be turned into a meeting
    │       └── ExtractError   no text could be taken out of the bytes
    └── StoreError         the database could not be opened or migrated

Messages are written for the person running the bot: what is wrong and where.
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


class ParseError(SourceError):
    """A document could not be parsed into a meeting with items."""


class ExtractError(ParseError):
    """No usable text could be extracted from a document's bytes."""


class StoreError(BotError):
    """The store could not be opened, migrated or written."""
