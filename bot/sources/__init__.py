"""Sources deliver raw documents; one class per config ``type``, found by :func:`make_source`."""

from bot.sources.base import RawDocument, Source, SourceContext, make_source

__all__ = ["RawDocument", "Source", "SourceContext", "make_source"]
