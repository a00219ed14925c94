"""When a document came out, as readers are told it: the kommune's own date where the source
gives one, never the time the bot happened to read it long after.

A FirstAgenda portal says when it released each meeting, a web index sends Last-Modified, a
folder file has its date: those are the kommune's dates. The other systems say nothing, so the
document is dated when it was fetched, which is right for a source polled every half hour but
would date a backfilled year of minutes "today"; a document fetched more than a week after its
meeting is therefore dated on the meeting day instead, and says that its own date is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LATE = timedelta(days=7)  # fetched this long after its meeting: a backfill, not news


@dataclass(frozen=True)
class Published:
    at: datetime  # the date feed entries and mails carry
    how: str  # "offentliggjort" (the kommune's date), "hentet" (when fetched) or "" (the meeting day)

    def label(self, zone: ZoneInfo) -> str:
        """``offentliggjort 02.11.2026``, ``hentet 02.11.2026``, or nothing when the date is unknown."""
        return f"{self.how} {self.at.astimezone(zone):%d.%m.%Y}" if self.how else ""

    def phrase(self, doc_kind: str, zone: ZoneInfo) -> str:
        """``referat offentliggjort 02.11.2026``, ``dagsorden hentet …``, or the kind alone."""
        return f"{doc_kind} {self.label(zone)}".rstrip()


def published(published_at: datetime | None, fetched_at: datetime, meeting_date: date, zone: ZoneInfo) -> Published:
    """``published_at`` as stored: the pipeline stores the fetch time where the source gives no date."""
    if published_at is not None and published_at != fetched_at:
        return Published(published_at, "offentliggjort")
    meeting_day = datetime.combine(meeting_date, time(12), zone)
    if fetched_at - meeting_day > LATE:
        return Published(meeting_day, "")
    return Published(fetched_at, "hentet")
