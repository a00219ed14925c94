"""The source interface and the registry of source types by their config ``type``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from bot.config import SourceConfig
from bot.errors import ConfigError, FetchError
from bot.minutes import ParsedMeeting


@dataclass(frozen=True)
class RawDocument:
    """The exact bytes of one published document, as fetched."""

    key: str  # stable within the source: a relative path or a portal id
    name: str  # what to call it in messages
    content: bytes
    fetched_at: datetime
    url: str | None = None
    published_at: datetime | None = None  # orders documents of the same meeting and kind
    # A source with structured data (a portal's JSON) parses it itself; text sources leave this
    # empty and the pipeline extracts and parses ``content``.
    parsed: ParsedMeeting | None = None


_REGISTRY: dict[str, type[Source]] = {}


class Source(ABC):
    """Yields documents; a document that cannot be read is yielded as a :class:`FetchError`
    so the others still get ingested. A failure of the whole source raises instead."""

    type: ClassVar[str]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.type] = cls

    def __init__(self, config: SourceConfig) -> None:
        self.config = config

    @abstractmethod
    def fetch(self) -> Iterator[RawDocument | FetchError]: ...


def make_source(config: SourceConfig) -> Source:
    import bot.sources.folder  # noqa: F401  (registers the type)

    try:
        return _REGISTRY[config.type](config)
    except KeyError:
        raise ConfigError(f"source {config.name!r}: unknown type {config.type!r}") from None
