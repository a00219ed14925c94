"""The store stage: meetings, documents and agenda items kept with every version.

:mod:`bot.store.models` is the schema and :mod:`bot.store.migrations` its upgrades;
:mod:`bot.store.engine` opens SQLite or PostgreSQL and writes many rows through the driver;
:mod:`bot.store.coordination` lets several workers share one database. A fetched document becomes
rows in :mod:`bot.store.versions` (its meeting and the document) and :mod:`bot.store.recorder`
(item versions and events), by the pure rules of :mod:`bot.store.diff`. :class:`Store` opens it
all and holds the raw archive and the reads the later stages need.
"""

from bot.store.store import (
    Store,
    archive_into,
    archived,
    events_by_id,
    utcnow,
    write_atomically,
)

__all__ = ["Store", "archive_into", "archived", "events_by_id", "utcnow", "write_atomically"]
