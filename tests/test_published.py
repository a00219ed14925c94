"""What date a reader is told a document came out (bot.publish.published): the kommune's own date where
the source gives one; else when it was fetched, unless that was long after the meeting."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.publish.published import published

ZONE = ZoneInfo("Europe/Copenhagen")
MEETING = date(2026, 3, 2)
FETCHED_SOON = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)
FETCHED_LATE = datetime(2026, 12, 6, 9, 30, tzinfo=timezone.utc)  # a backfill, months later
RELEASED = datetime(2026, 3, 3, 14, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("published_at", "fetched_at", "at", "phrase"),
    [
        # a portal's release date or a file's date: the kommune's own date, however late it was read
        (RELEASED, FETCHED_LATE, RELEASED, "referat offentliggjort 03.03.2026"),
        (RELEASED, FETCHED_SOON, RELEASED, "referat offentliggjort 03.03.2026"),
        # no date from the source (the pipeline stores the fetch time): fetched soon after the meeting
        (FETCHED_SOON, FETCHED_SOON, FETCHED_SOON, "referat hentet 04.03.2026"),
        (None, FETCHED_SOON, FETCHED_SOON, "referat hentet 04.03.2026"),
        # ... or long after it: dated on the meeting day, and no date is claimed
        (FETCHED_LATE, FETCHED_LATE, datetime(2026, 3, 2, 12, 0, tzinfo=ZONE), "referat"),
    ],
)
def test_a_document_is_dated_by_the_kommune_or_honestly_by_its_meeting(
    published_at: datetime | None, fetched_at: datetime, at: datetime, phrase: str
) -> None:
    when = published(published_at, fetched_at, MEETING, ZONE)
    assert when.at == at
    assert when.phrase("referat", ZONE) == phrase


def test_an_agenda_fetched_before_its_meeting_is_dated_when_fetched() -> None:
    fetched = datetime(2026, 2, 20, 8, 0, tzinfo=timezone.utc)
    assert published(fetched, fetched, MEETING, ZONE).phrase("dagsorden", ZONE) == "dagsorden hentet 20.02.2026"
