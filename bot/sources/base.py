"""The source interface and the registry of source types by their config ``type``."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from bot.errors import ConfigError, FetchError
from bot.fetch import Fetcher
from bot.parse.minutes import Attachment, ParsedMeeting
from bot.source_config import SourceConfig
from bot.store import Store


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


@dataclass(frozen=True)
class SourceContext:
    """What a live source needs besides its config; a folder source needs none of it."""

    fetcher: Fetcher | None = None  # the run's one HTTP client (pacing, cookies, conditional GET)
    store: Store | None = None  # for what the source remembers between runs
    now: datetime | None = None
    first_ingest_at: datetime | None = None  # None: this is the source's first ingest


_REGISTRY: dict[str, type[Source]] = {}


class Source(ABC):
    """Yields documents; a document that cannot be read is yielded as a :class:`FetchError`
    so the others still get ingested. A failure of the whole source raises instead."""

    type: ClassVar[str]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "type" in cls.__dict__:  # a concrete source type, not a shared base like HttpSource
            _REGISTRY[cls.type] = cls

    def __init__(self, config: SourceConfig, context: SourceContext | None = None) -> None:
        self.config = config
        self.context = context or SourceContext()
        # How many meetings or documents the source lists now (set by fetch; None: unknown).
        # Zero from a source that had some before is a warning in the run report.
        self.listed: int | None = None
        # Things worth a look that are not failures (a skipped symbolic link); set by fetch.
        self.warnings: list[str] = []

    @abstractmethod
    def fetch(self) -> Iterator[RawDocument | FetchError]: ...


@dataclass(frozen=True)
class Probe:
    """Whether a site answers like one publishing system, and what it lists (or why not)."""

    ok: bool
    message: str


class HttpSource(Source):
    """A source on the web: it uses the run's HTTP client, or opens one of its own."""

    @classmethod
    def probe(cls, fetcher: Fetcher, base: str) -> Probe:
        """Whether ``base`` (scheme, host and port) answers like this system, and what it lists."""
        return Probe(False, f"{cls.type} sites cannot be recognised by a probe")

    def fetch(self) -> Iterator[RawDocument | FetchError]:
        if self.context.fetcher is not None:
            yield from self.fetch_with(self.context.fetcher)
            return
        with Fetcher() as own:
            yield from self.fetch_with(own)

    @abstractmethod
    def fetch_with(self, fetcher: Fetcher) -> Iterator[RawDocument | FetchError]: ...

    def attachment_url(self, attachment: Attachment) -> str | None:
        """Where to fetch an attachment's PDF (``attachments = true``); None: the site has none."""
        return attachment.url if attachment.pdf is not False else None


# The module of each source type; a module is imported (and registers its type) when needed.
MODULES = {
    "folder": "folder",
    "http-index": "http_index",
    "firstagenda": "firstagenda",
    "meetingsplus": "meetingsplus",
    "aabendagsorden": "aabendagsorden",
    "kk-jsonapi": "kk_jsonapi",
    "aalborg": "aalborg",
    "frederikssund": "frederikssund",
    "hedensted": "hedensted",
    "rksk": "rksk",
}


def source_class(source_type: str) -> type[Source]:
    if source_type not in _REGISTRY and source_type in MODULES:
        importlib.import_module(f"bot.sources.{MODULES[source_type]}")
    return _REGISTRY[source_type]


def make_source(config: SourceConfig, context: SourceContext | None = None) -> Source:
    try:
        return source_class(config.type)(config, context)
    except KeyError:
        raise ConfigError(f"source {config.name!r}: unknown type {config.type!r}") from None
