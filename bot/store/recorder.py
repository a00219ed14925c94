"""What one document changes in its meeting's items (see :mod:`bot.store.versions` for the rules): its
items paired with the stored ones, a new version where the content differs from every stored
one, withdrawn items, and an event for each change, written in a few batches per document. The
new items, versions and events, most of a cold ingest's rows, go to the driver's ``executemany``
(:class:`bot.store.engine.BulkInsert`).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from operator import attrgetter
from typing import Any, cast

from sqlalchemy import Connection, Row, RowMapping, Table, bindparam, select, update
from sqlmodel import SQLModel

from bot.attachments import Bilag, attachment_entries, attachment_news
from bot.parse.minutes import ParsedItem, ParsedMeeting
from bot.store.diff import Change, compare, match_items, title_key
from bot.store.engine import BulkInsert

REAPPEARED = "Punktet er igen på dagsordenen."


@dataclass
class Tally:
    new: int = 0
    changed: int = 0
    removed: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecordedDocument:
    """A recorded document as its items' rows need it."""

    id: int
    key: str
    url: str | None
    kind: str | None


@dataclass(slots=True)
class _StoredItem:
    """An item row as read (the columns a document may change), changed in place by the document."""

    id: int
    portal_id: str | None
    number: int | None
    title: str
    case_number: str | None
    current_version: int
    removed: bool


_ITEMS: Table = SQLModel.metadata.tables["item"]
_VERSIONS: Table = SQLModel.metadata.tables["item_version"]
_EVENTS: Table = SQLModel.metadata.tables["event"]
_ITEM_COLUMNS = tuple(item_field.name for item_field in fields(_StoredItem))
_item_values = attrgetter(*_ITEM_COLUMNS)
# The statements are built once: building one costs more than SQLite takes to run it.
_READ_ITEMS = (
    select(*(_ITEMS.c[name] for name in _ITEM_COLUMNS))
    .where(_ITEMS.c.meeting_id == bindparam("meeting"))
    .order_by(_ITEMS.c.id)
)
_VERSION_COLUMNS = "id item_id version doc_kind content_hash title case_number sections decisions attachments".split()
_READ_VERSIONS = (
    select(*(_VERSIONS.c[name] for name in _VERSION_COLUMNS))
    .join_from(_VERSIONS, _ITEMS)
    .where(_ITEMS.c.meeting_id == bindparam("meeting"))
)
# The new rows go through the driver (bot.store.engine.BulkInsert); their ids are then known (SQLite) or read
# back, paired with the rows by a unique key they hold (PostgreSQL): see _insert.
_INSERT_ITEMS = BulkInsert(_ITEMS)
_INSERT_VERSIONS = BulkInsert(_VERSIONS)
_INSERT_EVENTS = BulkInsert(_EVENTS)
_ITEM_IDS = select(_ITEMS.c.id, _ITEMS.c.uid).where(_ITEMS.c.meeting_id == bindparam("meeting"))
_VERSION_IDS = (
    select(_VERSIONS.c.id, _VERSIONS.c.item_id, _VERSIONS.c.version)
    .join_from(_VERSIONS, _ITEMS)
    .where(_ITEMS.c.meeting_id == bindparam("meeting"), _VERSIONS.c.document_id == bindparam("document"))
)
_UPDATE_ITEMS = update(_ITEMS).where(_ITEMS.c.id == bindparam("b_id"))  # the columns set: the rows' other keys
_UPDATE_VERSIONS = update(_VERSIONS).where(_VERSIONS.c.id == bindparam("b_id"))


def _once_each(
    items: tuple[ParsedItem, ...], source: str, meeting: Row[Any], document: RecordedDocument, tally: Tally
) -> dict[str, ParsedItem]:
    """The document's items by their uid, repeats of one item (same identity) left out."""
    seen: dict[str, ParsedItem] = {}
    where = meeting_identity(source, meeting)
    for item in items:
        uid = item_uid(where, item)
        first = seen.setdefault(uid, item)
        if first is not item and first.content_hash() != item.content_hash():
            tally.warnings.append(
                f"{document.url or document.key}: item {item.number} ({item.title}) is listed twice with "
                "different text; the first is kept"
            )
    return seen


# An item or a version an event is of: a stored one, or the one made from this parsed item
_ItemRef = _StoredItem | ParsedItem
_VersionRef = RowMapping | ParsedItem


@dataclass
class Recorder:
    """What one document changes in its meeting's items, planned item by item, then written in a
    few batches: the new items, the new versions (each one statement through the driver, their ids
    read back), the changed rows, then the events, which need those ids."""

    connection: Connection
    source_name: str
    document: RecordedDocument
    now: datetime
    backfill: bool
    tally: Tally
    attachments: Mapping[str, Bilag] | None
    versions: dict[int, list[RowMapping]] = field(default_factory=dict)  # the meeting's stored versions, by item id
    # The new rows, by id() of the parsed item they are made from
    _new_items: dict[int, dict[str, Any]] = field(default_factory=dict)
    _new_versions: dict[int, tuple[_ItemRef, dict[str, Any]]] = field(default_factory=dict)  # with their item
    _attachments: list[dict[str, Any]] = field(default_factory=list)  # stored versions' new ``attachments``
    # (item, version, kind, change, attachment news, the version a new version is compared with)
    _events: list[tuple[_ItemRef, _VersionRef, str, Change | None, list[dict[str, Any]], RowMapping | None]] = field(
        default_factory=list
    )

    def record(self, meeting: Row[Any], parsed: ParsedMeeting, created: bool) -> None:
        """Pair the document's items with the meeting's stored ones (none if this document
        ``created`` the meeting), plan each change, write them."""
        rows: Iterable[Any] = () if created else self.connection.execute(_READ_ITEMS, {"meeting": meeting.id})
        items = [_StoredItem(*row) for row in rows]
        read = {item.id: _item_values(item) for item in items}
        self.versions = {item.id: [] for item in items}
        if items:  # one query per meeting, not one per item
            for version in self.connection.execute(_READ_VERSIONS, {"meeting": meeting.id}).mappings():
                self.versions[version["item_id"]].append(version)
        once = _once_each(parsed.items, self.source_name, meeting, self.document, self.tally)
        uids = {id(item): uid for uid, item in once.items()}
        pairs = match_items(list(once.values()), items)
        for new, stored in pairs:
            if stored is None:
                self.new_item(meeting, new, uids[id(new)])
            else:
                self.update_item(stored, new)
        if parsed.is_full:
            matched = {id(stored) for _, stored in pairs if stored is not None}
            for item in items:
                if id(item) not in matched and not item.removed:
                    self.remove_item(item, parsed.kind)
        self.write(meeting.id, [item for item in items if _item_values(item) != read[item.id]])

    def new_item(self, meeting: Row[Any], parsed: ParsedItem, uid: str) -> None:
        self._new_items[id(parsed)] = {
            "uid": uid,
            "meeting_id": meeting.id,
            "portal_id": parsed.portal_id,
            "number": parsed.number,
            "title": parsed.title,
            "case_number": parsed.case_number,
            "current_version": 1,
            "removed": False,
        }
        self._new_versions[id(parsed)] = (parsed, self._version(parsed, 1, parsed.content_hash()))
        self._events.append((parsed, parsed, "new", None, [], None))
        self.tally.new += 1

    def update_item(self, item: _StoredItem, parsed: ParsedItem) -> None:
        reappeared = item.removed
        item.removed = False
        item.number, item.portal_id = parsed.number, parsed.portal_id or item.portal_id
        versions = self.versions[item.id]
        current = self._current(item)
        digest = parsed.content_hash()
        entries = attachment_entries(parsed, self.attachments)
        newest_first = sorted(versions, key=lambda version: -version["version"])
        known = next((v for v in newest_first if self._same(v, digest, entries)), None)
        if known is not None:
            item.current_version = known["version"]  # equal to a published version: no flapping
            if self.attachments is not None and known["attachments"] != entries:
                # read now, or gone: nothing new to tell about
                self._attachments.append({"b_id": known["id"], "attachments": entries})
            if reappeared:
                status = Change((), False, ({"section": "Status", "ops": [["+", REAPPEARED]]},))
                self._events.append((item, known, "changed", status, [], None))
                self.tally.changed += 1
            return
        number = max(v["version"] for v in versions) + 1
        item.current_version, item.title, item.case_number = number, parsed.title, parsed.case_number
        self._new_versions[id(parsed)] = (item, self._version(parsed, number, digest))
        news = attachment_news(current["attachments"], entries) if self.attachments is not None else []
        self._events.append((item, parsed, "changed", None, news, current))
        self.tally.changed += 1

    def _current(self, item: _StoredItem) -> RowMapping:
        return next(v for v in self.versions[item.id] if v["version"] == item.current_version)

    def _same(self, version: RowMapping, digest: str, entries: list[dict[str, Any]]) -> bool:
        """Whether a stored version has this content and (where fetched) no attachment it lacks."""
        if version["content_hash"] != digest:
            return False
        return self.attachments is None or not attachment_news(version["attachments"], entries)

    def remove_item(self, item: _StoredItem, kind: str) -> None:
        current = self._current(item)
        if kind == "dagsorden" and current["doc_kind"] == "tillægsdagsorden":
            return  # a re-published agenda does not list the supplementary agenda's items
        item.removed = True
        self._events.append((item, current, "removed", None, [], None))
        self.tally.removed += 1

    def _version(self, parsed: ParsedItem, number: int, digest: str) -> dict[str, Any]:
        """A new version's row, but for its item's id."""
        return {
            "version": number,
            "document_id": self.document.id,
            "doc_kind": self.document.kind or "dagsorden",
            "content_hash": digest,
            "number": parsed.number,
            "title": parsed.title,
            "case_number": parsed.case_number,
            "closed": parsed.closed,
            "sections": [[s.heading, s.text] for s in parsed.sections],
            "decisions": [d.as_json() for d in parsed.decisions],
            "decision": parsed.decision,
            "attachments": attachment_entries(parsed, self.attachments),
            "url": parsed.url or self.document.url,
            "created_at": self.now,
        }

    def write(self, meeting: int, changed: Sequence[_StoredItem]) -> None:
        """Write what was planned; ``changed`` are the stored items whose row the document changed."""
        read_items = (_ITEM_IDS, {"meeting": meeting})
        item_ids = _insert(self.connection, _INSERT_ITEMS, self._new_items, read_items, ("uid",))

        def item_id(item: _ItemRef) -> int:
            return item.id if isinstance(item, _StoredItem) else item_ids[id(item)]

        rows = {key: {**row, "item_id": item_id(item)} for key, (item, row) in self._new_versions.items()}
        read_versions = (_VERSION_IDS, {"meeting": meeting, "document": self.document.id})
        version_ids = _insert(self.connection, _INSERT_VERSIONS, rows, read_versions, ("item_id", "version"))
        if changed:
            self.connection.execute(_UPDATE_ITEMS, [_changes(item) for item in changed])
        if self._attachments:
            self.connection.execute(_UPDATE_VERSIONS, self._attachments)
        events = []
        for item, target, kind, change, news, before in self._events:
            if isinstance(target, ParsedItem):
                version_id = version_ids[id(target)]
                if before is not None:  # a new version: the change is told against the current one
                    change = _change(before, rows[id(target)])
            else:
                version_id = target["id"]
            events.append(self._event(item_id(item), version_id, kind, change, news))
        _INSERT_EVENTS(self.connection, events)

    def _event(
        self, item_id: int, version_id: int, kind: str, change: Change | None, attachments: list[dict[str, Any]]
    ) -> dict[str, Any]:
        if change is not None and attachments:
            named = tuple(f"Bilag: {news['name']}" for news in attachments)
            change = replace(change, changed_sections=(*change.changed_sections, *dict.fromkeys(named)))
        return {
            "item_id": item_id,
            "version_id": version_id,
            "document_id": self.document.id,
            "kind": kind,
            "changed_sections": list(change.changed_sections) if change else [],
            "decision_added": change.decision_added if change else False,
            "diff": list(change.diff) if change else [],
            "attachment_changes": list(attachments),
            "backfill": self.backfill,
            "matched": False,
            "created_at": self.now,
        }


def _insert(
    connection: Connection,
    insert: BulkInsert,
    rows: dict[int, dict[str, Any]],
    read: tuple[Any, dict[str, Any]],
    key: tuple[str, ...],
) -> dict[int, int]:
    """Insert the rows; their ids, by the rows' keys in ``rows``.

    On SQLite the ids are the range that ends at ``last_insert_rowid()``: one statement inserts the
    rows in order while this transaction holds the database's only write lock, and SQLite gives a
    row inserted without an id the table's largest id plus one (an INTEGER PRIMARY KEY without
    AUTOINCREMENT, below 2**63 - 1). Reading them back cost the main process 3.5% of a cold ingest.
    On PostgreSQL the ``read`` query and its parameters return the id and then the unique ``key``
    columns of the new rows (all in the document's meeting, which is locked)."""
    if not rows:
        return {}
    insert(connection, list(rows.values()))
    if connection.dialect.name == "sqlite":
        # Asked of the driver's connection: through SQLAlchemy this one-value query cost 35 µs
        driver = cast(sqlite3.Connection, connection.connection.driver_connection)
        (last,) = driver.execute("SELECT last_insert_rowid()").fetchone()
        return dict(zip(rows, range(last - len(rows) + 1, last + 1), strict=True))
    query, params = read
    made = {tuple(row[1:]): row[0] for row in connection.execute(query, params)}
    return {planned: made[tuple(row[name] for name in key)] for planned, row in rows.items()}


def _changes(item: _StoredItem) -> dict[str, Any]:
    """An item's row for the update by id: ``b_id``, and the columns a document may change."""
    return {"b_id": item.id, **{name: getattr(item, name) for name in _ITEM_COLUMNS if name != "id"}}


def meeting_identity(source: str, meeting: Row[Any]) -> str:
    """What identifies a meeting in its items' uids (made once per document, not per item)."""
    return f"{source}|{meeting.committee_key}|{meeting.meeting_date.isoformat()}|"


def item_uid(meeting: str, parsed: ParsedItem) -> str:
    """An id made of what identifies the item when first seen (``meeting``: its
    :func:`meeting_identity`), so a rebuilt store gives the same ids."""
    identity = parsed.portal_id or f"{parsed.number}|{title_key(parsed.title)}|{parsed.case_number}"
    return hashlib.sha256(f"{meeting}{identity}".encode()).hexdigest()[:24]


def _change(old: Mapping[Any, Any], new: Mapping[str, Any]) -> Change:
    return compare(
        [(h, t) for h, t in old["sections"]],
        [(h, t) for h, t in new["sections"]],
        [_decision_key(d) for d in old["decisions"]],
        [_decision_key(d) for d in new["decisions"]],
        {"Titel": old["title"], "Sagsnummer": old["case_number"]},
        {"Titel": new["title"], "Sagsnummer": new["case_number"]},
    )


def _decision_key(decision: dict[str, object]) -> str:
    return f"{decision.get('committee')}|{decision.get('date')}"
