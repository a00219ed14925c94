"""Source health: a failing source is reported by URL and reason, the others are still ingested,
consecutive failures are counted, and ``_health.xml`` says "failing" after
``alert_after_failures`` of them and "recovered" when the source works again; on SQLite and on
PostgreSQL."""

from __future__ import annotations

import http.client
import threading
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from sqlmodel import select

from bot.config import load_config
from bot.publish.serve import make_server
from bot.run.pipeline import open_store
from bot.store.models import SourceState

from .helpers import json_lines, run_cli
from .portal import LISTING, Reply, Server, listing, portal_source, running, small_portal, write_portal_config

pytestmark = pytest.mark.usefixtures("database")

FAILING = Reply(status=500, body=b"down", headers={"Retry-After": "0"}, validators=False)


def source_state(config: Path, name: str) -> tuple[int, str | None]:
    """The source's consecutive failures and its last error, as stored."""
    with open_store(load_config(config)) as store, store.session() as session:
        source = session.exec(select(SourceState).where(SourceState.name == name)).one()
        return source.failures, source.last_error


def health(tmp_path: Path) -> feedparser.FeedParserDict:
    data = (tmp_path / "state" / "feeds" / "_health.xml").read_bytes()
    etree.fromstring(data, etree.XMLParser(recover=False))
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def test_a_failing_source_is_counted_reported_and_recovers(tmp_path: Path) -> None:
    with running(Server()) as bad, running(Server()) as good:
        small_portal(good)
        bad.routes[LISTING] = FAILING
        config = write_portal_config(
            tmp_path,
            portal_source("bad", bad.url),
            portal_source("good", good.url),
            bot="alert_after_failures = 2",
        )
        first = run_cli(config, "ingest")
        assert first.exit_code == 1
        assert (
            f"error: source 'bad' (Bad): {bad.url}{LISTING}: HTTP 500 Internal Server Error (4 attempts)"
            in first.stderr
        )
        assert first.stdout.startswith("1 document read (0 unchanged): 3 new,"), "the other source is ingested"
        assert {i["source"] for i in json_lines(config, "items")} == {"good"}
        assert source_state(config, "bad") == (1, f"{bad.url}{LISTING}: HTTP 500 Internal Server Error (4 attempts)")
        assert health(tmp_path).entries == [], "one failure is not yet an alert"

        run_cli(config, "ingest")
        assert source_state(config, "bad")[0] == 2
        [failing] = health(tmp_path).entries
        assert failing.title == "Kilden bad (Bad) fejler: 2 forsøg i træk"
        assert "HTTP 500 Internal Server Error" in failing.summary and failing.link == bad.url
        assert failing.id.startswith("urn:referatvagt:_health:bad:") and failing.id.endswith(":failing")

        run_cli(config, "ingest")
        assert source_state(config, "bad")[0] == 3
        assert [e.id for e in health(tmp_path).entries] == [failing.id], "one alert per streak"

        small_portal(bad)
        assert run_cli(config, "ingest").exit_code == 0
        assert source_state(config, "bad") == (0, None)
        recovered, again = health(tmp_path).entries
        assert again.id == failing.id and recovered.title == "Kilden bad (Bad) virker igen efter 3 fejl i træk"
        assert recovered.id == failing.id.replace(":failing", ":recovered"), "GUIDs per source and streak start"

        bad.routes[LISTING] = FAILING  # a new streak gets its own entries
        run_cli(config, "ingest")
        run_cli(config, "ingest")
        newest = health(tmp_path).entries[0]
        assert newest.id.endswith(":failing") and newest.id != failing.id


def test_the_health_feed_is_served_but_not_listed(tmp_path: Path) -> None:
    with running(Server()) as srv:
        small_portal(srv)
        config = write_portal_config(tmp_path, portal_source("t", srv.url))
        run_cli(config, "ingest")
    feeds = tmp_path / "state" / "feeds"
    assert health(tmp_path).feed.title == "referatvagt: kilder der fejler"
    assert "_health" not in (feeds / "index.html").read_text(encoding="utf-8")
    assert "_health" not in (feeds / "feeds.opml").read_text(encoding="utf-8")
    server = make_server(feeds, port=0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        connection.request("GET", "/_health.xml")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Type", "").startswith("application/rss+xml")
        assert b"<rss" in response.read()
        connection.close()
    finally:
        server.shutdown()
        server.server_close()


def test_zero_meetings_from_a_site_is_a_warning_and_a_health_note_until_it_lists_again(tmp_path: Path) -> None:
    with running(Server()) as srv:
        small_portal(srv)
        config = write_portal_config(tmp_path, portal_source("t", srv.url))
        assert "warning" not in run_cli(config, "run", "--once").stderr
        assert health(tmp_path).entries == []
        srv.json(LISTING, listing({"Økonomiudvalget": []}))
        result = run_cli(config, "run", "--once")
        assert result.exit_code == 0
        assert "warning: source 't' (T): 0 meetings in its window – has the site changed?" in result.stderr
        assert source_state(config, "t") == (0, None), "a warning, not a failure"
        run_cli(config, "run", "--once")
        (empty,) = health(tmp_path).entries
        assert empty.title == "Kilden t (T) viser 0 møder – har siden ændret sig?", "one note for the whole streak"
        assert empty.id.endswith(":empty")
        small_portal(srv)
        run_cli(config, "run", "--once")
    titles = [entry.title for entry in health(tmp_path).entries]
    assert titles == ["Kilden t (T) viser møder igen", "Kilden t (T) viser 0 møder – har siden ændret sig?"]


def test_a_host_timing_out_or_answering_malformed_json_leaves_the_others_working(tmp_path: Path) -> None:
    from bot.fetch import Fetcher, FetchSettings
    from bot.http_cache import StoreCache
    from bot.run.pipeline import run_cycle

    with running(Server()) as slow, running(Server()) as broken, running(Server()) as good:
        small_portal(good)
        slow.routes[LISTING] = Reply(body=b"{}", delay=1.0)
        broken.raw(LISTING, b'{"Udvalg": {"Udvalg 2026-2029": [{"Navn": 7')
        path = write_portal_config(
            tmp_path,
            portal_source("slow", slow.url),
            portal_source("broken", broken.url),
            portal_source("good", good.url),
        )
        config = load_config(path)
        with open_store(config) as store:
            settings = FetchSettings(timeout=0.2, connect_timeout=1, attempts=2, min_interval=0)
            with Fetcher(settings, cache=StoreCache(store, tmp_path / "cache"), sleep=lambda _: None) as fetcher:
                report = run_cycle(config, store, fetcher=fetcher)
                assert fetcher.get(good.url + LISTING).status == 200, "the caller's client stays open"
    assert report.new == 3
    assert len(report.errors) == 2
    assert report.errors[0].startswith(f"source 'slow' (Slow): {slow.url}{LISTING}: timed out") and report.errors[
        0
    ].endswith("(2 attempts)")
    assert report.errors[1].startswith(
        f"source 'broken' (Broken): {broken.url}{LISTING}: not a FirstAgenda committee list"
    )
    assert source_state(path, "slow")[0] == source_state(path, "broken")[0] == 1
