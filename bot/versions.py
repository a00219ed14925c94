"""Record a parsed document as item versions and change events, in one transaction.

Rules (see issue 2 and the README): an item gets a new version only when its content hash
differs from every stored version; minutes are never overridden by an agenda of the same
meeting, nor a document by an older-published one of the same kind for the same meeting, so
the order documents arrive in never matters; a full document (agenda or minutes, not a
tillægsdagsorden) that lacks an item withdraws it. An item a document lists twice is stored
once (with a warning when the two differ): one odd document never stops an ingest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.attachments import Bilag, attachment_entries, attachment_news
from bot.coordination import insert_ignoring
from bot.diff import Change, compare, match_items, title_key
from bot.minutes import KIND_RANK, ParsedItem, ParsedMeeting, committee_key
from bot.models import Document, Event, Item, ItemVersion, Meeting, SourceState

REAPPEARED = "Punktet er igen på dagsordenen."


@dataclass
class Tally:
    new: int = 0
    changed: int = 0
    removed: int = 0
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def record_meeting(
    session: Session,
    source: SourceState,
    document: Document,
    meeting: ParsedMeeting,
    now: datetime,
    backfill: bool,
    attachments: Mapping[str, Bilag] | None = None,
) -> Tally:
    """Store one parsed document's meeting and items; returns what changed.

    ``attachments`` are the fetched attachments by :func:`bot.attachments.identity` when the
    source fetches them (else None): an attachment added, or one whose bytes changed, is then a
    change of its item too."""
    stored_meeting = _meeting(session, source, meeting)
    document.meeting_id = stored_meeting.id
    tally = Tally()
    if meeting.rank < KIND_RANK.get(stored_meeting.kind, 0) or _newer_stored(session, stored_meeting, document):
        document.outcome = "superseded"  # the minutes, or a newer version, are stored: this adds nothing
        return tally
    _update_meeting(stored_meeting, meeting)
    items = list(session.exec(select(Item).where(Item.meeting_id == stored_meeting.id).order_by(col(Item.id))))
    recorder = _Recorder(session, source.name, document, now, backfill, tally, attachments, _versions(session, items))
    pairs = match_items(_once_each(meeting.items, source.name, stored_meeting, document, tally), items)
    for parsed, stored in pairs:
        if stored is None:
            recorder.new_item(stored_meeting, parsed)
        else:
            recorder.update_item(stored, parsed)
    if meeting.is_full:
        matched = {id(stored) for _, stored in pairs if stored is not None}
        for item in items:
            if id(item) not in matched and not item.removed:
                recorder.remove_item(item, meeting.kind)
    recorder.write()
    document.outcome = "stored"
    return tally


def _versions(session: Session, items: list[Item]) -> dict[int, list[ItemVersion]]:
    """Every stored version of these items, by item: one query per meeting, not one per item."""
    found: dict[int, list[ItemVersion]] = {item.id: [] for item in items if item.id is not None}
    if found:
        for version in session.exec(select(ItemVersion).where(col(ItemVersion.item_id).in_(found))):
            found[version.item_id].append(version)
    return found


def _newer_stored(session: Session, meeting: Meeting, document: Document) -> bool:
    """Whether another document of the same kind, published later, is already stored for this
    meeting (a re-read older copy of an agenda must not undo the newer one)."""
    if document.published_at is None:
        return False
    newer = select(Document.id).where(
        Document.meeting_id == meeting.id,
        Document.kind == document.kind,
        Document.key != document.key,
        Document.outcome == "stored",
        col(Document.published_at) > document.published_at,
    )
    return session.exec(newer.limit(1)).first() is not None


def _once_each(
    items: tuple[ParsedItem, ...], source: str, meeting: Meeting, document: Document, tally: Tally
) -> list[ParsedItem]:
    """The document's items with repeats of one item (same identity) left out."""
    seen: dict[str, ParsedItem] = {}
    for item in items:
        uid = item_uid(source, meeting, item)
        first = seen.setdefault(uid, item)
        if first is not item and first.content_hash() != item.content_hash():
            tally.warnings.append(
                f"{document.url or document.key}: item {item.number} ({item.title}) is listed twice with "
                "different text; the first is kept"
            )
    return list(seen.values())


def _meeting(session: Session, source: SourceState, meeting: ParsedMeeting) -> Meeting:
    """The stored meeting, created if new, and locked until the document is recorded: two
    workers recording documents of one meeting take turns (no item is withdrawn twice)."""
    key = committee_key(meeting.committee)
    query = select(Meeting).where(
        Meeting.source_id == source.id, Meeting.committee_key == key, Meeting.meeting_date == meeting.date
    )
    stored = session.exec(query.with_for_update()).first()
    if stored is None:
        row: dict[str, Any] = {
            "source_id": source.id,
            "committee": meeting.committee,
            "committee_key": key,
            "meeting_date": meeting.date,
            "kind": meeting.kind,
            "participants": [],
        }
        insert_ignoring(session, Meeting, [row], ["source_id", "committee_key", "meeting_date"])
        stored = session.exec(query.with_for_update()).one()
    return stored


def _update_meeting(stored: Meeting, meeting: ParsedMeeting) -> None:
    stored.kind = meeting.kind if meeting.rank >= KIND_RANK.get(stored.kind, 0) else stored.kind
    stored.start_time = meeting.start.strftime("%H:%M") if meeting.start else stored.start_time
    stored.place = meeting.place or stored.place
    stored.participants = list(meeting.participants) or stored.participants
    stored.url = meeting.url or stored.url


@dataclass
class _Recorder:
    session: Session
    source_name: str
    document: Document
    now: datetime
    backfill: bool
    tally: Tally
    attachments: Mapping[str, Bilag] | None = None
    versions: dict[int, list[ItemVersion]] = field(default_factory=dict)  # the meeting's stored versions, by item
    # What the document changes, in order: new items and versions are written in one batch each,
    # then the events (which need their ids), so a document costs a few statements, not a few per item.
    _new_versions: list[tuple[Item, ParsedItem, int, str]] = field(default_factory=list)
    # (item, its version or the parsed item whose new version it is, kind, change, attachment news,
    # the version a new version is compared with)
    _events: list[
        tuple[Item, ItemVersion | ParsedItem, str, Change | None, list[dict[str, Any]], ItemVersion | None]
    ] = field(default_factory=list)

    def new_item(self, meeting: Meeting, parsed: ParsedItem) -> None:
        assert meeting.id is not None
        item = Item(
            uid=item_uid(self.source_name, meeting, parsed),
            meeting_id=meeting.id,
            portal_id=parsed.portal_id,
            number=parsed.number,
            title=parsed.title,
            case_number=parsed.case_number,
        )
        self.session.add(item)
        self._new_versions.append((item, parsed, 1, parsed.content_hash()))
        self._events.append((item, parsed, "new", None, [], None))
        self.tally.new += 1

    def write(self) -> None:
        """Write what was planned: the new items, then the new versions, then the events."""
        self.session.flush()
        made: dict[int, ItemVersion] = {}
        for item, parsed, number, digest in self._new_versions:
            made[id(parsed)] = self._version(item, parsed, number, digest)
        self.session.flush()
        for item, target, kind, change, news, before in self._events:
            version = made[id(target)] if isinstance(target, ParsedItem) else target
            if before is not None:  # a new version: the change is told against the current one
                change = _change(before, version)
            self._event(item, version, kind, change, news)

    def update_item(self, item: Item, parsed: ParsedItem) -> None:
        reappeared = item.removed
        item.removed = False
        item.number, item.portal_id = parsed.number, parsed.portal_id or item.portal_id
        assert item.id is not None
        versions = self.versions[item.id]
        current = next(v for v in versions if v.version == item.current_version)
        digest = parsed.content_hash()
        entries = attachment_entries(parsed, self.attachments)
        known = next((v for v in sorted(versions, key=_newest_first) if self._same(v, digest, entries)), None)
        if known is not None:
            item.current_version = known.version  # equal to a published version: no flapping
            if self.attachments is not None and known.attachments != entries:
                known.attachments = entries  # read now, or gone: nothing new to tell about
            if reappeared:
                status = Change((), False, ({"section": "Status", "ops": [["+", REAPPEARED]]},))
                self._events.append((item, known, "changed", status, [], None))
                self.tally.changed += 1
            return
        self._new_versions.append((item, parsed, max(v.version for v in versions) + 1, digest))
        news = attachment_news(current.attachments, entries) if self.attachments is not None else []
        self._events.append((item, parsed, "changed", None, news, current))
        self.tally.changed += 1

    def _same(self, version: ItemVersion, digest: str, entries: list[dict[str, Any]]) -> bool:
        """Whether a stored version has this content and (where fetched) no attachment it lacks."""
        if version.content_hash != digest:
            return False
        return self.attachments is None or not attachment_news(version.attachments, entries)

    def remove_item(self, item: Item, kind: str) -> None:
        assert item.id is not None
        current = next(v for v in self.versions[item.id] if v.version == item.current_version)
        if kind == "dagsorden" and current.doc_kind == "tillægsdagsorden":
            return  # a re-published agenda does not list the supplementary agenda's items
        item.removed = True
        self._events.append((item, current, "removed", None, [], None))
        self.tally.removed += 1

    def _version(self, item: Item, parsed: ParsedItem, number: int, digest: str) -> ItemVersion:
        assert item.id is not None and self.document.id is not None
        version = ItemVersion(
            item_id=item.id,
            version=number,
            document_id=self.document.id,
            doc_kind=self.document.kind or "dagsorden",
            content_hash=digest,
            number=parsed.number,
            title=parsed.title,
            case_number=parsed.case_number,
            closed=parsed.closed,
            sections=[[s.heading, s.text] for s in parsed.sections],
            decisions=[d.as_json() for d in parsed.decisions],
            decision=parsed.decision,
            attachments=attachment_entries(parsed, self.attachments),
            url=parsed.url or self.document.url,
            created_at=self.now,
        )
        self.session.add(version)
        self.versions.setdefault(item.id, []).append(version)
        item.current_version, item.title, item.case_number = number, parsed.title, parsed.case_number
        return version

    def _event(
        self,
        item: Item,
        version: ItemVersion,
        kind: str,
        change: Change | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> None:
        assert item.id is not None and self.document.id is not None
        if change is not None and attachments:
            named = tuple(f"Bilag: {news['name']}" for news in attachments)
            change = replace(change, changed_sections=(*change.changed_sections, *dict.fromkeys(named)))
        event = Event(
            item_id=item.id,
            version_id=version.id,
            document_id=self.document.id,
            kind=kind,
            changed_sections=list(change.changed_sections) if change else [],
            decision_added=change.decision_added if change else False,
            diff=list(change.diff) if change else [],
            attachment_changes=list(attachments or []),
            backfill=self.backfill,
            created_at=self.now,
        )
        self.session.add(event)
        self.tally.events.append(event)


def _newest_first(version: ItemVersion) -> int:
    return -version.version


def item_uid(source: str, meeting: Meeting, parsed: ParsedItem) -> str:
    """An id made of what identifies the item when first seen, so a rebuilt store gives the same ids."""
    identity = parsed.portal_id or f"{parsed.number}|{title_key(parsed.title)}|{parsed.case_number}"
    key = f"{source}|{meeting.committee_key}|{meeting.meeting_date.isoformat()}|{identity}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _change(old: ItemVersion, new: ItemVersion) -> Change:
    return compare(
        [(h, t) for h, t in old.sections],
        [(h, t) for h, t in new.sections],
        [_decision_key(d) for d in old.decisions],
        [_decision_key(d) for d in new.decisions],
        {"Titel": old.title, "Sagsnummer": old.case_number},
        {"Titel": new.title, "Sagsnummer": new.case_number},
    )


def _decision_key(decision: dict[str, object]) -> str:
    return f"{decision.get('committee')}|{decision.get('date')}"
