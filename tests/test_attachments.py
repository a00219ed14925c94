"""Attachments (bilag) through the imitation FirstAgenda portal: PDFs served directly and behind
the portal's viewer page, fetched only where a source sets ``attachments = true``, searched only by
watchlists that set it, told as changes once, never fetched twice, and never failing an item."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from itertools import count
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from bot.attachments import attachment_news
from bot.config import load_config
from bot.fetch import FetchSettings
from bot.http_cache import store_fetcher
from bot.run.pipeline import open_store, run_cycle
from bot.run.report import RunReport
from bot.store import Store
from bot.store.migrations import migrate

from .helpers import json_lines, run_cli
from .pdfmaker import make_pdf
from .portal import (
    LISTING,
    Reply,
    Server,
    agenda,
    agenda_path,
    item,
    listing,
    meeting,
    portal_source,
    write_portal_config,
)

T0 = datetime(2026, 5, 20, 8, 0, tzinfo=timezone.utc)
RELEASED = "2026-05-01T10:00:00+02:00"
REPUBLISHED = "2026-05-20T09:00:00+02:00"
VIEWER = "/vis/pdf/bilag/{}"
PDF = {"Content-Type": "application/pdf"}


def pdf(tmp_path: Path, *lines: str) -> bytes:
    """A real PDF, as a kommune's word processor would export a bilag."""
    path = tmp_path / f"bilag-{abs(hash(lines))}.pdf"
    return make_pdf(path, list(lines)).read_bytes()


def bilag(bilag_id: str, name: str, has_pdf: str | None = "true") -> dict[str, Any]:
    return {"Id": bilag_id, "Navn": name, "Order": 0, **({"HarPdfVersion": has_pdf} if has_pdf is not None else {})}


def portal(server: Server, *attached: list[dict[str, Any]], released: str = RELEASED, decided: bool = False) -> None:
    """One meeting of Økonomiudvalget; item n carries the bilag of ``attached[n-1]``."""
    decision = "<h3>Beslutning i Økonomiudvalget den 18-05-2026</h3><span>Godkendt.</span>" if decided else ""
    items = []
    for number, bilag_list in enumerate(attached, start=1):
        entry = item(
            f"i{number}",
            number,
            f"Punkt nummer {number}",
            f"26/{number}",
            f"<h3>Indstilling</h3><p>At sagen godkendes.</p>{decision}",
        )
        entry["Bilag"] = bilag_list
        items.append(entry)
    name = "Referat" if decided else "Dagsorden"
    server.json(LISTING, listing({"Økonomiudvalget": [meeting("m1", "2026-05-18", name, released)]}))
    server.json(agenda_path("m1"), agenda("m1", "Økonomiudvalget", items))


def serve_pdf(server: Server, bilag_id: str, body: bytes) -> None:
    """The viewer path answers the PDF itself."""
    server.routes[VIEWER.format(bilag_id)] = Reply(body=body, headers=PDF)


def serve_behind_viewer(server: Server, bilag_id: str, body: bytes) -> None:
    """The viewer path answers an HTML page like the portal's, whose iframe names a signed URL
    that is different at every request (as the portal's short-lived S3 links are)."""
    signatures = count(1)

    def page(_: dict[str, list[str]]) -> Reply:
        signed = f"/s3/{bilag_id}?X-Amz-Expires=300&amp;X-Amz-Signature=sig{next(signatures)}"
        html = f'<!DOCTYPE html><html><body><div><iframe src="{signed}" id="pdfframe"></iframe></div></body></html>'
        return Reply(body=html.encode(), headers={"Content-Type": "text/html; charset=utf-8"})

    server.handlers[VIEWER.format(bilag_id)] = page
    server.routes[f"/s3/{bilag_id}"] = Reply(body=body, headers=PDF, validators=False)


def config_for(tmp_path: Path, server: Server, extra: str = "attachments = true") -> Path:
    return write_portal_config(tmp_path, portal_source("oekonomi", server.url, extra))


def watchlist(tmp_path: Path, slug: str, body: str) -> None:
    folder = tmp_path / "watchlists"
    folder.mkdir(exist_ok=True)
    (folder / f"{slug}.toml").write_text(body, encoding="utf-8")


def run(config_path: Path) -> RunReport:
    """One cycle, with a fetcher that retries at once (the run's own waits a second or more)."""
    config = load_config(config_path)
    with open_store(config) as store:
        fetcher = store_fetcher(store, FetchSettings(backoff=0.0, attempts=2))
        try:
            return run_cycle(config, store, now=T0, fetcher=fetcher)
        finally:
            fetcher.close()


def fetched(server: Server, bilag_id: str) -> int:
    return server.count(VIEWER.format(bilag_id))


# --- searching ----------------------------------------------------------------------------------


def test_attachment_text_is_searched_only_by_watchlists_that_ask_and_the_match_names_the_attachment(
    tmp_path: Path, server: Server
) -> None:
    portal(server, [bilag("b1", "Notat om Kystvejen")], [bilag("b2", "Tidsplan")])
    serve_pdf(server, "b1", pdf(tmp_path, "Notat", "", "Kommunen foreslår to vindmøller ved Kystvejen."))
    serve_behind_viewer(server, "b2", pdf(tmp_path, "Tidsplan", "", "Byggeriet af vindmøller begynder i 2027."))
    watchlist(tmp_path, "med-bilag", 'terms = ["vindmølle"]\nattachments = true\n')
    watchlist(tmp_path, "uden-bilag", 'terms = ["vindmølle"]\n')
    config = config_for(tmp_path, server)

    report = run(config)

    assert report.errors == [] and report.warnings == []
    assert [m["number"] for m in json_lines(config, "matches") if m["watchlist"] == "uden-bilag"] == []
    found = {m["number"]: m for m in json_lines(config, "matches") if m["watchlist"] == "med-bilag"}
    assert sorted(found) == [1, 2]
    first = found[1]
    assert first["attachment"] == {
        "name": "Notat om Kystvejen",
        "url": f"{server.url}/vis/pdf/bilag/b1?redirectDirectlyToPdf=true",
    }, "the match names the attachment and links it as the portal does"
    assert "to **vindmøller** ved Kystvejen" in first["snippet"], "the snippet is the attachment's text"
    assert found[2]["attachment"]["name"] == "Tidsplan", "the viewer page was followed to the PDF"
    feed = (tmp_path / "state" / "feeds" / "med-bilag.xml").read_text(encoding="utf-8")
    assert "i bilag &lt;a href=" in feed and "Notat om Kystvejen&lt;/a&gt;" in feed
    assert "i bilag Notat om Kystvejen: " in feed, "the entry's summary says where too"


def test_a_source_without_attachments_true_fetches_none_and_stores_names_and_links_only(
    tmp_path: Path, server: Server
) -> None:
    portal(server, [bilag("b1", "Notat om Kystvejen")])
    serve_pdf(server, "b1", pdf(tmp_path, "Kommunen foreslår to vindmøller ved Kystvejen."))
    watchlist(tmp_path, "med-bilag", 'terms = ["vindmølle"]\nattachments = true\n')
    config = config_for(tmp_path, server, extra="")

    run(config)

    assert fetched(server, "b1") == 0
    assert json_lines(config, "matches") == []
    [stored] = json_lines(config, "items")
    assert stored["attachments"] == [
        {"name": "Notat om Kystvejen", "url": f"{server.url}/vis/pdf/bilag/b1?redirectDirectlyToPdf=true"}
    ]


def test_only_bilag_the_portal_has_a_pdf_of_are_fetched(tmp_path: Path, server: Server) -> None:
    portal(server, [bilag("b1", "Regneark", has_pdf="false"), bilag("b2", "Uden oplysning", has_pdf=None)])
    config = config_for(tmp_path, server)

    report = run(config)

    assert fetched(server, "b1") == fetched(server, "b2") == 0
    assert report.warnings == [] and report.new == 1


# --- downloads: once, and again only for a re-published meeting --------------------------------------


def test_a_rerun_downloads_nothing_and_a_republished_meeting_downloads_again_by_bilag_id(
    tmp_path: Path, server: Server
) -> None:
    portal(server, [bilag("b1", "Tidsplan")])
    serve_behind_viewer(server, "b1", pdf(tmp_path, "Byggeriet begynder i 2027."))
    config = config_for(tmp_path, server)

    run(config)
    report = run(config)

    assert (fetched(server, "b1"), server.count("/s3/b1")) == (1, 1), "a re-run fetches no attachment again"
    assert (report.new, report.changed) == (0, 0)

    portal(server, [bilag("b1", "Tidsplan")], released=REPUBLISHED, decided=True)  # the minutes
    report = run(config)

    assert (fetched(server, "b1"), server.count("/s3/b1")) == (2, 2), "re-published: fetched again"
    events = json_lines(config, "events")
    assert [(e["kind"], e["decision_added"], e["attachment_added"], e["attachment_changed"]) for e in events] == [
        ("new", False, False, False),
        ("changed", True, False, False),
    ], "the same bytes under a new signed URL are no change"


def test_an_added_and_a_changed_attachment_make_one_changed_event_and_a_rerun_none(
    tmp_path: Path, server: Server
) -> None:
    portal(server, [bilag("b1", "Tidsplan")], [])
    serve_pdf(server, "b1", pdf(tmp_path, "Byggeriet begynder i 2027."))
    watchlist(tmp_path, "nyt", 'terms = ["havvind"]\nattachments = true\nonly_new_text = true\n')
    config = config_for(tmp_path, server)
    run(config)

    portal(server, [bilag("b1", "Tidsplan"), bilag("b2", "Høringssvar")], [], released=REPUBLISHED)
    serve_pdf(server, "b1", pdf(tmp_path, "Byggeriet begynder først i 2028."))
    serve_pdf(server, "b2", pdf(tmp_path, "Foreningen er imod havvind ved kysten."))
    report = run(config)

    assert (report.new, report.changed, report.removed) == (0, 1, 0)
    events = [e for e in json_lines(config, "events") if e["kind"] == "changed"]
    assert len(events) == 1
    [event] = events
    assert event["changed_sections"] == ["Bilag: Tidsplan", "Bilag: Høringssvar"]
    assert (event["attachment_added"], event["attachment_changed"]) == (True, True)
    assert [(a["name"], a["change"]) for a in event["attachments"]] == [
        ("Tidsplan", "changed"),
        ("Høringssvar", "added"),
    ]
    [match] = json_lines(config, "matches")
    assert (match["event"], match["attachment"]["name"]) == ("changed", "Høringssvar"), "the new attachment is new text"
    source_feed = (tmp_path / "state" / "feeds" / "source-oekonomi.xml").read_text(encoding="utf-8")
    assert "Nyt bilag: Oekonomi · Økonomiudvalget 18.05.2026 · Punkt 1" in source_feed, "the title says what happened"
    assert "Ændret bilag:&lt;/strong&gt; &lt;a href=" in source_feed and "Nyt bilag:&lt;/strong&gt;" in source_feed

    before = len(server.requests)
    portal(server, [bilag("b1", "Tidsplan"), bilag("b2", "Høringssvar")], [], released=REPUBLISHED)
    report = run(config)

    assert (report.new, report.changed) == (0, 0) and len(json_lines(config, "events")) == 3
    assert not [seen for seen in server.requests[before:] if seen.path.startswith("/vis/pdf/")]


def test_turning_attachments_on_for_stored_items_tells_nothing_new(tmp_path: Path, server: Server) -> None:
    portal(server, [bilag("b1", "Tidsplan")])
    serve_pdf(server, "b1", pdf(tmp_path, "Byggeriet begynder i 2027."))
    run(config_for(tmp_path, server, extra=""))

    portal(server, [bilag("b1", "Tidsplan")], released=REPUBLISHED)
    server.json(agenda_path("m1"), json.loads(server.routes[agenda_path("m1")].body) | {"TillaegsDagsorden": True})
    config = config_for(tmp_path, server)
    report = run(config)

    assert fetched(server, "b1") == 1 and report.changed == 0, "an attachment read for the first time is not news"
    [stored] = json_lines(config, "items")
    assert stored["attachments"][0]["sha256"] is not None and stored["version"] == 1


def test_a_digest_says_in_words_which_attachment_matched_and_which_was_added(tmp_path: Path, server: Server) -> None:
    portal(server, [bilag("b1", "Tidsplan")])
    serve_pdf(server, "b1", pdf(tmp_path, "Byggeriet begynder i 2027."))
    watchlist(
        tmp_path,
        "havvind",
        'terms = ["havvind"]\nattachments = true\n[deliver]\nemail = ["a@example.org"]\ndigest = "weekly"\n',
    )
    config = config_for(tmp_path, server)
    with config.open("a", encoding="utf-8") as handle:
        handle.write('\n[email]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\nfrom = "vagt@example.org"\n')
    run(config)  # the first ingest: matches of it are not mailed
    portal(server, [bilag("b1", "Tidsplan"), bilag("b2", "Høringssvar")], released=REPUBLISHED)
    serve_pdf(server, "b2", pdf(tmp_path, "Foreningen er imod havvind ved kysten."))
    run(config)

    assert run_cli(config, "digest", "--now", "--dry-run", str(tmp_path / "eml")).exit_code == 0
    [eml] = (tmp_path / "eml").glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    plain, html = (part.get_content() for part in message.iter_parts())
    link = f"{server.url}/vis/pdf/bilag/b2?redirectDirectlyToPdf=true"
    assert "* Nyt bilag: Punkt 1: Punkt nummer 1" in plain
    assert f"I bilag Høringssvar ({link}): Foreningen er imod havvind ved kysten." in plain
    assert f"Nyt bilag: Høringssvar ({link})" in plain and "Ændret:" not in plain
    assert f'<em>i bilag <a href="{link}"' in html and "<strong>Nyt bilag:</strong>" in html


# --- failures never fail the item -------------------------------------------------------------------


def test_failing_attachments_are_warnings_naming_them_and_their_items_are_stored(
    tmp_path: Path, server: Server
) -> None:
    portal(
        server,
        [bilag("b500", "Budget"), bilag("big", "Kort i høj opløsning")],
        [bilag("html", "Skema"), bilag("bad", "Ødelagt fil"), bilag("ok", "Notat")],
    )
    server.routes[VIEWER.format("b500")] = Reply(status=500, body=b"oops")
    serve_pdf(server, "big", b"%PDF-1.7\n" + b"0" * 40_000 + b"\n%%EOF\n")
    server.html(VIEWER.format("html"), "<html><body><p>Dokumentet findes ikke</p></body></html>")
    serve_pdf(server, "bad", b"%PDF-1.4\nnot really a pdf\n%%EOF\n")
    serve_pdf(server, "ok", pdf(tmp_path, "Et notat om vindmøller."))
    config = config_for(tmp_path, server, extra="attachments = true\nattachment_max_mb = 0.02")

    report = run(config)

    assert report.errors == [] and report.new == 2, "every item is stored"
    warnings = "\n".join(report.warnings)
    assert len(report.warnings) == 4
    for name, reason in (
        ("Budget", "HTTP 500"),
        ("Kort i høj opløsning", "attachment_max_mb = 0.02"),
        ("Skema", "not a PDF (text/html)"),
        ("Ødelagt fil", "no text could be read"),
    ):
        line = next(w for w in report.warnings if f"attachment {name!r}" in w)
        assert line.startswith("source 'oekonomi' (Oekonomi): Økonomiudvalget 18.05.2026, item ") and reason in line
    assert "item 1 (Punkt nummer 1)" in warnings and "item 2 (Punkt nummer 2)" in warnings
    stored = {a["name"]: a for i in json_lines(config, "items") for a in i["attachments"]}
    assert stored["Budget"]["sha256"] is None and "HTTP 500" in stored["Budget"]["error"]
    assert stored["Ødelagt fil"]["sha256"] is not None, "unreadable, but its bytes are archived"
    assert "error" not in stored["Notat"] and stored["Notat"]["sha256"] is not None
    assert fetched(server, "big") == 1

    run(config)
    assert fetched(server, "b500") == 2, "a failure is tried again when its meeting is read again, not every run"


def test_a_republished_attachment_that_fails_keeps_the_copy_read_before(tmp_path: Path, server: Server) -> None:
    portal(server, [bilag("b1", "Tidsplan")])
    serve_pdf(server, "b1", pdf(tmp_path, "Byggeriet af vindmøller begynder i 2027."))
    config = config_for(tmp_path, server)
    run(config)
    [before] = json_lines(config, "items")

    portal(server, [bilag("b1", "Tidsplan")], released=REPUBLISHED, decided=True)
    server.routes[VIEWER.format("b1")] = Reply(status=503, body=b"busy")
    report = run(config)

    assert len(report.warnings) == 1 and "HTTP 503" in report.warnings[0]
    assert report.warnings[0].endswith("the copy downloaded before is kept")
    [after] = json_lines(config, "items")
    assert after["version"] == 2 and after["attachments"] == before["attachments"], "its text is still searched"
    assert [e["attachment_changed"] for e in json_lines(config, "events")] == [False, False]


def test_only_the_first_pages_of_an_attachment_are_read(tmp_path: Path, server: Server) -> None:
    lines = [f"Linje {n} af en lang redegørelse om trafikken." for n in range(90)]
    portal(server, [bilag("long", "Redegørelse")])
    serve_pdf(server, "long", pdf(tmp_path, *lines[:-1], "Sidste side nævner letbanen."))
    watchlist(tmp_path, "letbane", 'terms = ["letbane"]\nattachments = true\n')
    config = config_for(tmp_path, server, extra="attachments = true\nattachment_max_pages = 1")

    report = run(config)

    assert json_lines(config, "matches") == [], "the term stands on page 2"
    assert len(report.warnings) == 1 and "only the first 1 of 2 pages were read" in report.warnings[0]
    assert "attachment_max_pages = 1" in report.warnings[0]


# --- comparing attachment lists ------------------------------------------------------------------------


def test_attachments_are_paired_by_key_then_url_then_name() -> None:
    stored_before_keys = [{"name": "Tidsplan", "url": "https://x/b1"}, "Gammelt bilag"]
    now = [
        {"name": "Tidsplan", "url": "https://x/b1", "key": "b1", "sha256": "aa"},
        {"name": "Gammelt bilag", "url": None, "key": "b2", "sha256": "bb"},
    ]
    assert attachment_news(stored_before_keys, now) == [], "read for the first time: nothing new"
    renamed = [{**now[0], "name": "Tidsplan, rettet", "sha256": "cc"}, {**now[1], "key": "b3", "name": "Tidsplan"}]
    assert attachment_news(now, renamed) == [
        {"name": "Tidsplan, rettet", "url": "https://x/b1", "change": "changed"},
        {"name": "Tidsplan", "url": None, "change": "added"},
    ], "an attachment with a key is that one only, whatever its name"


# --- the store ------------------------------------------------------------------------------------------


def test_a_store_from_before_attachments_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    with Store(f"sqlite:///{path}", tmp_path / "archive") as new, new.engine.begin() as old:  # back to 0003's schema
        for statement in (
            "DROP TABLE attachment_content",
            "DROP TABLE attachment_fetch",
            "ALTER TABLE event DROP COLUMN attachment_changes",
            "ALTER TABLE match DROP COLUMN attachment",
            "ALTER TABLE match DROP COLUMN attachment_url",
            "DELETE FROM schema_migration WHERE name = '0004_attachments'",
        ):
            old.execute(text(statement))
    store = Store(f"sqlite:///{path}", tmp_path / "archive")
    columns = {table: {c["name"] for c in inspect(store.engine).get_columns(table)} for table in ("event", "match")}
    assert "attachment_changes" in columns["event"] and {"attachment", "attachment_url"} <= columns["match"]
    assert {"attachment_content", "attachment_fetch"} <= set(inspect(store.engine).get_table_names())
    assert migrate(store.engine) == [], "every step is recorded"
    store.close()


def test_attachments_work_on_postgresql(tmp_path: Path, server: Server, postgres_url: str) -> None:
    portal(server, [bilag("b1", "Notat")])
    serve_pdf(server, "b1", pdf(tmp_path, "Kommunen foreslår to vindmøller."))
    watchlist(tmp_path, "med-bilag", 'terms = ["vindmølle"]\nattachments = true\n')
    config = write_portal_config(
        tmp_path, portal_source("oekonomi", server.url, "attachments = true"), bot=f'database_url = "{postgres_url}"'
    )

    run(config)
    run(config)

    [match] = json_lines(config, "matches")
    assert match["attachment"]["name"] == "Notat" and fetched(server, "b1") == 1
