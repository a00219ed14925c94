"""Dates people expect (issue 14, point 2): feed entries and mails carry the date the kommune
published the document (for a folder source: the file's date), not when the bot read it, so the
first ingest of a year of minutes reads as that year in a feed reader and in a mail."""

from __future__ import annotations

import calendar
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .helpers import Doc, run_cli
from .test_email import T0, Inbox, Server, cycle, parts, setup
from .test_feeds import feeds_dir, parse
from .webtools import free_port

WATCHLIST = 'title = "Busser"\nterms = ["busplan"]\n'
MAIL = '[deliver]\nemail = ["a@example.org"]\ndigest = "immediate"\n'
MEETINGS = [datetime(2026, month, 10, tzinfo=timezone.utc) for month in (1, 3, 5, 7, 9, 11)]


def published(meeting: datetime) -> datetime:
    """When the kommune put the agenda out: a few days before the meeting, on the whole second."""
    return meeting - timedelta(days=5) + timedelta(hours=9)


def write_year(minutes: Path) -> dict[str, datetime]:
    """An agenda per meeting of the year, each file dated when it was published; by meeting date."""
    dates = {}
    for meeting in MEETINGS:
        day = meeting.strftime("%d-%m-%Y")
        doc = Doc(day=day).item(1, f"Busplan {meeting:%B}", f"26/{meeting.month}", Sagsfremstilling="Ny busplan.")
        path = minutes / f"dagsorden-{meeting:%m}.md"
        path.write_text(doc.text(), encoding="utf-8")
        stamp = published(meeting).timestamp()
        os.utime(path, (stamp, stamp))
        dates[meeting.strftime("%d.%m.%Y")] = published(meeting)
    return dates


def entry_dates(feed: Path) -> list[tuple[str, datetime]]:
    """(title, published) of each entry, in the feed's order, as feedparser reads them."""
    parsed = parse(feed)
    return [
        (entry.title, datetime.fromtimestamp(calendar.timegm(entry.published_parsed), timezone.utc))
        for entry in parsed.entries
    ]


def test_a_backfilled_feed_is_dated_over_the_year_by_publication(tmp_path: Path) -> None:
    config = setup(tmp_path, 25, busser=WATCHLIST)
    dates = write_year(tmp_path / "minutes")
    assert run_cli(config, "ingest").exit_code == 0
    for name in ("busser.xml", "busser.atom", "source-test.xml", "source-test.atom"):
        entries = entry_dates(feeds_dir(tmp_path) / name)
        assert len(entries) == len(MEETINGS), name
        for title, when in entries:
            meeting_day = next(day for day in dates if day in title)  # the title shows the meeting date
            assert when == dates[meeting_day], f"{name}: {title} is dated when it was published"
        shown = [when for _, when in entries]
        assert shown == sorted(shown, reverse=True), f"{name}: newest publication first"
        assert len(set(shown)) == len(MEETINGS), "spread over the year, not all today"

    # Nothing changed: the same bytes; a file touched but not changed: still the same bytes
    before = {path: path.read_bytes() for path in feeds_dir(tmp_path).glob("busser.*")}
    assert run_cli(config, "ingest").exit_code == 0
    touched = tmp_path / "minutes" / "dagsorden-03.md"
    os.utime(touched, (published(MEETINGS[-1]).timestamp() + 3600,) * 2)
    assert run_cli(config, "ingest").exit_code == 0
    assert {path: path.read_bytes() for path in before} == before, "an entry's date changes only with its document"

    # A changed document: its new version is dated by its new file date, and comes first
    text = touched.read_text(encoding="utf-8").replace("Ny busplan.", "Ny busplan med natbus.")
    touched.write_text(text, encoding="utf-8")
    changed_at = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
    os.utime(touched, (changed_at.timestamp(),) * 2)
    assert run_cli(config, "ingest").exit_code == 0
    title, when = entry_dates(feeds_dir(tmp_path) / "busser.xml")[0]
    assert when == changed_at and "10.03.2026" in title


def test_a_backfill_mail_reads_as_the_archive_it_is(tmp_path: Path) -> None:
    relay = Server(Inbox(), free_port())
    relay.start()
    try:
        config = setup(tmp_path, relay.port, busser=WATCHLIST + MAIL)
        dates = write_year(tmp_path / "minutes")
        assert cycle(config, T0, send_backfill=True).mail.sent == 1
        ((_, message),) = relay.inbox.messages
    finally:
        relay.stop()
    assert message["Subject"] == f"referatvagt: {len(MEETINGS)} ældre punkter – Busser"
    text = parts(message)[0]
    assert "første indlæsning" in text and "ikke nye" in text
    lines = text.splitlines()
    meetings = [line.strip() for line in lines if line.strip().startswith("Økonomiudvalget, møde ")]
    assert meetings == [f"Økonomiudvalget, møde {day}" for day in dates], "each meeting by its date, in order"
    for day, when in dates.items():
        at = lines.index(f"  Økonomiudvalget, møde {day}")
        assert lines[at + 2].strip().startswith("* Ældre: Punkt 1: Busplan")
        assert lines[at + 3].strip() == f"Dagsorden offentliggjort {when:%d.%m.%Y}"
