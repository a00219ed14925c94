"""Quiet controls and trustworthy silence (issue 16, points 4 and 5), through a real SMTP server.

``paused = true`` or ``paused_until = "YYYY-MM-DD"`` stops email (matches are still recorded and in
the feed, and are never mailed later); ``[deliver] weekly_all_clear = true`` sends one weekly line
when a watchlist matched nothing, naming the kommuner read and whether their sources answered.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import feedparser
import pytest

from bot.config import load_config
from bot.match.matches import effective_watchlists
from bot.publish.digest import send_due
from bot.run.pipeline import open_store

from .helpers import decided, json_lines, put, run_cli, standard_agenda
from .test_email import BUSSER, T0, Server, cycle, outbox, setup

pytestmark = pytest.mark.usefixtures("database")
MONDAY_EVENING = T0  # 2026-11-02 19:00 in Copenhagen: after the weekly digest time (monday 07:00)


def due(config: Path, now: object) -> None:
    loaded = load_config(config)
    with open_store(loaded) as store:
        watchlists, _ = effective_watchlists(store, loaded.bot.watchlists_dir)
        send_due(store, loaded, watchlists, now, right_now=False)  # type: ignore[arg-type]


def test_a_paused_watchlist_is_matched_and_in_its_feed_but_never_mailed(tmp_path: Path, smtp: Server) -> None:
    config = setup(tmp_path, smtp.port, busser=BUSSER + "\n")
    text = (tmp_path / "watchlists" / "busser.toml").read_text(encoding="utf-8")
    (tmp_path / "watchlists" / "busser.toml").write_text("paused = true\n" + text, encoding="utf-8")
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, T0)  # the source's first read: backfill, never mailed anyway
    put(tmp_path, "referat.md", decided(standard_agenda()))
    cycle(config, T0 + timedelta(hours=1))
    assert any(match["event"] == "changed" for match in json_lines(config, "matches")), "still matched"
    feed = feedparser.parse((tmp_path / "state" / "feeds" / "busser.xml").read_bytes())
    assert len(feed.entries) == 2, "and in its feed"
    assert smtp.inbox.messages == [] and outbox(config) == []
    assert "paused: matched and in its feed, not emailed" in run_cli(config, "status").stdout
    # Resumed: what matched during the pause stays unmailed; a new change is mailed.
    (tmp_path / "watchlists" / "busser.toml").write_text(text, encoding="utf-8")
    cycle(config, T0 + timedelta(hours=2))
    assert smtp.inbox.messages == []
    put(tmp_path, "referat.md", decided(standard_agenda()).text().replace("tre nye linjer", "fire nye linjer"))
    cycle(config, T0 + timedelta(hours=3))
    assert len(smtp.inbox.messages) == 1


def test_paused_until_a_day_holds_mail_until_that_day(tmp_path: Path, smtp: Server) -> None:
    config = setup(tmp_path, smtp.port, busser="paused_until = 2026-11-04\n" + BUSSER)
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, T0)
    put(tmp_path, "referat.md", decided(standard_agenda()))
    cycle(config, T0 + timedelta(days=1))  # 3 November: paused
    assert smtp.inbox.messages == []
    put(tmp_path, "referat.md", decided(standard_agenda()).text().replace("tre nye linjer", "fire nye linjer"))
    cycle(config, T0 + timedelta(days=2))  # 4 November: delivered again
    assert len(smtp.inbox.messages) == 1
    assert "paused until" not in run_cli(config, "status").stdout, "the pause is over"


ALL_CLEAR = (
    'title = "Skybrud"\nterms = ["skybrud"]\n[deliver]\nemail = ["laeser@example.org"]\nweekly_all_clear = true\n'
)


def test_a_quiet_week_sends_one_all_clear_naming_the_kommuner_read(tmp_path: Path, smtp: Server) -> None:
    config = setup(tmp_path, smtp.port, skybrud=ALL_CLEAR)
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, MONDAY_EVENING - timedelta(days=1))  # read on Sunday; nothing about skybrud
    due(config, MONDAY_EVENING)
    due(config, MONDAY_EVENING + timedelta(hours=1))  # once a week, not once a run
    ((to, message),) = smtp.inbox.messages
    assert to == ["laeser@example.org"]
    assert message["Subject"] == "referatvagt: intet nyt i ugen – Skybrud"
    body = message.get_content()
    assert "Ingen nye punkter i ugen 26.10.–02.11.2026 for:" in body and "Skybrud (skybrud.toml)" in body
    assert "Kommuner læst: Testrup." in body and "Alle deres kilder svarede i ugen" in body
    assert "weekly_all_clear = true" in body
    due(config, MONDAY_EVENING + timedelta(days=7))
    assert len(smtp.inbox.messages) == 2, "and again the next quiet week"


def test_the_all_clear_names_a_failing_source_instead_of_claiming_all_is_well(tmp_path: Path, smtp: Server) -> None:
    config = setup(tmp_path, smtp.port, skybrud=ALL_CLEAR)
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, MONDAY_EVENING - timedelta(days=3))
    (tmp_path / "minutes" / "dagsorden.md").unlink()
    (tmp_path / "minutes").rmdir()  # the folder is gone: the source fails
    cycle(config, MONDAY_EVENING - timedelta(days=1))
    due(config, MONDAY_EVENING)
    ((_, message),) = smtp.inbox.messages
    assert "(OBS: kilder fejler)" in message["Subject"]
    body = message.get_content()
    assert "OBS: Testrup: sidst læst 30.10.2026" in body and "Stilheden kan skyldes kilden" in body
    assert "Alle deres kilder svarede" not in body


def test_a_week_with_a_match_sends_no_all_clear(tmp_path: Path, smtp: Server) -> None:
    config = setup(tmp_path, smtp.port, busser=BUSSER.replace('digest = "immediate"', "weekly_all_clear = true"))
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, MONDAY_EVENING - timedelta(days=1))  # matches busplan (a backfill: not mailed)
    due(config, MONDAY_EVENING)
    assert all("intet nyt" not in str(message["Subject"]) for _, message in smtp.inbox.messages)


def test_a_paused_watchlist_gets_no_all_clear_either(tmp_path: Path, smtp: Server) -> None:
    config = setup(tmp_path, smtp.port, skybrud="paused = true\n" + ALL_CLEAR)
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, MONDAY_EVENING - timedelta(days=1))
    due(config, MONDAY_EVENING)
    assert smtp.inbox.messages == []
