"""The Formpipe Meetings+ source against a real local HTTP server imitating ``billund.meetingsplus.dk``
(``tests/sites/meetingsplus.py``): the overview, meeting pages with their tabs and item PDFs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import feedparser
import pytest

from bot.config import load_config
from bot.errors import ParseError
from bot.fetch import Fetcher, FetchSettings
from bot.http_cache import StoreCache
from bot.parse.parser import build_item
from bot.parse.pdf import read_pdf
from bot.run.pipeline import open_store, run_cycle
from bot.sources.meetingsplus import MeetingsPlus, item_body, parse_meeting_page, parse_overview
from bot.sources.site import ZONE

from .helpers import json_lines, run_cli
from .pdfmaker import make_scanned_pdf
from .portal import Reply, Server, running, write_portal_config
from .sites import folder_source, ingest
from .sites.meetingsplus import (
    CHILDREN,
    ECONOMY,
    REAL_HOST,
    TECHNICAL,
    Meeting,
    billund,
    decided,
    item_lines,
    meeting_html,
    overview_html,
    pdf_bytes,
    pdf_path,
    serve,
)

BASE = "http://mirror.test"


def source(url: str, extra: str = "", name: str = "billund", kommune: str = "Billund") -> str:
    return (
        f'name = "{name}"\nkommune = "{kommune}"\ntype = "meetingsplus"\nurl = "{url}"\n'
        f'min_interval = 0\nsince = "2026-01-01"\n{extra}'
    )


def page_url(base: str, meeting: Meeting) -> str:
    return base + meeting.path


# --- the overview --------------------------------------------------------------------------------


def test_the_overview_gives_published_meetings_with_links_on_the_configured_host() -> None:
    html = overview_html([*billund(), ECONOMY], planned=(("Byrådet", "2026-06-16"),))
    meetings = parse_overview(html.encode(), BASE, BASE + "/overview")
    assert [(m.key, m.committee, m.start, m.kind, m.signature) for m in meetings] == [
        ("8377", "Børne- og Familieudvalget", datetime(2026, 4, 7, 15, tzinfo=ZONE), "dagsorden", ""),
        ("8412", "Økonomiudvalget", datetime(2026, 5, 18, 16, tzinfo=ZONE), "dagsorden", ""),
        ("8420", "Plan- og Miljøudvalget", datetime(2026, 5, 20, 15, 30, tzinfo=ZONE), "dagsorden", ""),
    ], "each meeting once; the planned Byråd meeting has no link yet"
    assert meetings[1].url == f"{BASE}/committees/okonomiudvalget/meetings/8412", "the real host's link, on ours"
    assert REAL_HOST in html


def test_an_iso_date_in_the_text_counts_and_rows_without_a_committee_or_link_do_not() -> None:
    html = """<ul>
      <li class="meeting-list-item" data-content-id="1"><a href="/m/1">
        <span class="url-text">Byrådet</span> <span>2026-06-16</span></a></li>
      <li class="meeting-list-item" data-content-id="2"><a href="/m/2"><span>2026-06-17T17:00:00+02:00</span></a></li>
      <li class="meeting-list-item" data-content-id="3"><a href="javascript:void(0)">
        <span class="url-text">Byrådet</span> 2026-06-18</a></li>
      <li class="meeting-list-item"><a href="/m/4?tab=agenda"><span class="url-text">Social- og Sundhedsudvalget</span>
        <time datetime="2026-06-19T09:00:00Z">19. juni</time></a></li>
    </ul>"""
    meetings = parse_overview(html.encode(), BASE, BASE + "/overview")
    assert [(m.key, m.committee, m.start, m.url) for m in meetings] == [
        ("1", "Byrådet", datetime(2026, 6, 16, tzinfo=ZONE), f"{BASE}/m/1"),
        ("/m/4", "Social- og Sundhedsudvalget", datetime(2026, 6, 19, 11, tzinfo=ZONE), f"{BASE}/m/4?tab=agenda"),
    ]
    assert parse_overview(b"", BASE, BASE + "/overview") == []
    assert parse_overview(b"<html><body><h1>Ny side</h1></body></html>", BASE, BASE + "/overview") == []


# --- a meeting page and an item's PDF --------------------------------------------------------------------


def test_a_meeting_page_gives_its_items_and_the_minutes_tab_wins_once_it_exists() -> None:
    url = page_url(BASE, ECONOMY)
    agenda = parse_meeting_page(meeting_html(ECONOMY).encode(), BASE, url)
    assert agenda.kind == "dagsorden"
    assert [(r.number, r.title, r.anchor, r.pdf) for r in agenda.rows] == [
        (1, "Godkendelse af dagsorden", "41230", f"{BASE}/pdf/agendaitem/41230"),
        (2, "Budgetopfølgning pr. 31. marts 2026", "41235", f"{BASE}/pdf/agendaitem/41235"),
        (3, "Orientering om ny affaldsordning", "41236", f"{BASE}/pdf/agendaitem/41236"),
        (4, "Lukket punkt: Køb af ejendom", "41237", None),
    ], "Billund's 'D - ' and 'O - ' are dropped; the bilag links are not the item's PDF"
    assert [(a.name, a.url) for a in agenda.rows[1].attachments] == [
        ("Budgetoversigt 1. kvartal 2026", f"{BASE}/attachments/90121"),
        ("Notat om merforbrug", f"{BASE}/attachments/90122"),
    ]
    minutes = parse_meeting_page(meeting_html(decided(ECONOMY)).encode(), BASE, url)
    assert minutes.kind == "referat"
    assert [r.pdf for r in minutes.rows][:3] == [f"{BASE}/pdf/protocolitem/{n}" for n in ("41230", "41235", "41236")]


def test_a_meeting_page_without_its_tabs_is_a_clear_error() -> None:
    with pytest.raises(ParseError, match=r"^http://mirror.test/m: no agendaTabContent .*layout changed"):
        parse_meeting_page(b"<html><body><div class='agenda'>Punkt 1</div></body></html>", BASE, f"{BASE}/m")
    empty = parse_meeting_page(b"<div id='agendaTabContent'><ul></ul></div>", BASE, f"{BASE}/m")
    assert (empty.kind, empty.rows) == ("dagsorden", ())


def test_an_item_pdf_gives_its_case_number_and_sections_without_its_own_heading() -> None:
    climate = replace(TECHNICAL, committee="Klima- og Miljøudvalget")  # "Klima-" starts a section name
    item = replace(TECHNICAL.items[0], title="D - Økonomiske rammer for klimaplanen")
    text = read_pdf(pdf_bytes(tuple(item_lines(climate, item, protocol=True))), "punkt.pdf").text
    case, body = item_body(text, climate.committee, "Økonomiske rammer for klimaplanen")
    assert case == "26/2201"
    parsed = build_item(1, "Økonomiske rammer", case, body, climate.committee, date(2026, 5, 20))
    assert [s.heading for s in parsed.sections] == ["Resumé", "Indstilling", "Beslutning"]
    assert parsed.decision == "Godkendt." and "gartnerigrund" in parsed.section_map()["Resumé"]
    assert item_body("Ingen overskrifter her.\nKun tekst.") == (None, "Ingen overskrifter her.\nKun tekst.")


# --- end to end through the CLI ------------------------------------------------------------------------


def test_a_site_is_ingested_end_to_end_and_a_second_poll_changes_nothing(tmp_path: Path, server: Server) -> None:
    serve(server, billund())
    config = write_portal_config(tmp_path, source(server.url))
    assert (
        ingest(config) == "3 documents read (0 unchanged): 7 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    )

    items = json_lines(config, "items")
    assert [(i["committee"], i["meeting_date"], i["number"], i["title"]) for i in items] == [
        ("Børne- og Familieudvalget", "2026-04-07", 1, "Skoledistrikter fra skoleåret 2027/28"),
        ("Økonomiudvalget", "2026-05-18", 1, "Godkendelse af dagsorden"),
        ("Økonomiudvalget", "2026-05-18", 2, "Budgetopfølgning pr. 31. marts 2026"),
        ("Økonomiudvalget", "2026-05-18", 3, "Orientering om ny affaldsordning"),
        ("Økonomiudvalget", "2026-05-18", 4, "Lukket punkt: Køb af ejendom"),
        ("Plan- og Miljøudvalget", "2026-05-20", 1, "Lokalplan 1.45 for boliger ved Grindsted Å"),
        ("Plan- og Miljøudvalget", "2026-05-20", 2, "Vejplan 2027"),
    ]
    assert [i["doc_kind"] for i in items] == ["referat"] + ["dagsorden"] * 6
    budget = items[2]
    assert (budget["kommune"], budget["meeting_start"], budget["case_number"]) == ("Billund", "16:00", "26/1234")
    assert list(budget["sections"]) == ["Resumé", "Sagsfremstilling", "Indstilling"]
    assert "merforbruget finansieres af kassebeholdningen" in budget["sections"]["Indstilling"]
    assert budget["decision"] is None, "the agenda's PDF has no decision yet"
    assert budget["url"] == f"{server.url}{ECONOMY.path}#id_41235"
    assert budget["attachments"][0] == {
        "name": "Budgetoversigt 1. kvartal 2026",
        "url": f"{server.url}/attachments/90121",
    }
    assert items[4]["closed"] is True and items[4]["sections"] == {}
    assert items[0]["decision"] == "Godkendt.", "the Børne- og Familieudvalget meeting has its minutes already"

    raw = tmp_path / "state" / "archive" / budget["document"]["raw_sha256"][:2] / budget["document"]["raw_sha256"]
    content = raw.read_bytes()
    assert content.startswith(f"\n--- {server.url}{ECONOMY.path} ---\n".encode())
    assert content.count(b"%PDF-") == 3 and f"--- {server.url}/pdf/agendaitem/41236 ---".encode() in content

    events = len(json_lines(config, "events"))
    assert (
        ingest(config) == "3 documents read (3 unchanged): 0 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    )
    assert len(json_lines(config, "events")) == events
    for path in ("/overview", ECONOMY.path, pdf_path(ECONOMY.items[1], protocol=False)):
        seen = [s for s in server.requests if s.path == path]
        assert len(seen) == 2 and "if-none-match" not in seen[0].headers and "if-none-match" in seen[1].headers
    assert server.count("/attachments/90121") == 0, "bilag are linked, not fetched"


def test_a_backfill_from_a_site_without_dates_is_dated_by_its_meetings_not_today(
    tmp_path: Path, server: Server
) -> None:
    """Meetings+ says nothing about when it published a meeting: minutes fetched months after
    their meeting are dated on the meeting day in the source feed, and claim no publication date."""
    serve(server, billund())
    config = write_portal_config(tmp_path, source(server.url))
    ingest(config)
    feed = feedparser.parse((tmp_path / "state" / "feeds" / "source-billund.xml").read_bytes())
    days = {date(*entry.published_parsed[:3]) for entry in feed.entries}
    assert days == {date(2026, 4, 7), date(2026, 5, 18), date(2026, 5, 20)}
    assert not any("offentliggjort" in entry.content[0].value for entry in feed.entries)


def test_the_minutes_add_decisions_to_the_agenda_items(tmp_path: Path, server: Server) -> None:
    serve(server, [ECONOMY, TECHNICAL])
    config = write_portal_config(tmp_path, source(server.url))
    ingest(config)
    serve(server, [decided(ECONOMY), decided(TECHNICAL)])

    assert (
        ingest(config) == "2 documents read (0 unchanged): 0 new, 5 changed, 0 removed items; 0 new matches; 0 errors"
    )
    changed = [e for e in json_lines(config, "events") if e["kind"] == "changed"]
    assert [(e["committee"], e["number"], e["decision_added"], e["changed_sections"]) for e in changed] == [
        ("Økonomiudvalget", 1, True, ["Beslutning i Økonomiudvalget den 18-05-2026"]),
        ("Økonomiudvalget", 2, True, ["Beslutning i Økonomiudvalget den 18-05-2026"]),
        ("Økonomiudvalget", 3, True, ["Beslutning i Økonomiudvalget den 18-05-2026"]),
        ("Plan- og Miljøudvalget", 1, True, ["Beslutning"]),
        ("Plan- og Miljøudvalget", 2, True, ["Beslutning"]),
    ]
    budget = json_lines(config, "items")[1]
    assert (budget["version"], budget["doc_kind"]) == (2, "referat")
    assert budget["decision"] == "Indstillingen godkendt. Fraværende: Anne Holm.", "PDF lines joined into paragraphs"
    assert server.count("/pdf/protocolitem/41235") == 1 and server.count("/pdf/agendaitem/41235") == 1


def test_a_server_error_is_named_and_the_other_source_still_ingests(tmp_path: Path, server: Server) -> None:
    server.routes["/overview"] = Reply(status=500, body=b"Server Error", headers={"Retry-After": "0"})
    config = write_portal_config(tmp_path, source(server.url), folder_source(tmp_path))
    result = run_cli(config, "ingest")
    assert result.exit_code == 1
    assert f"source 'billund' (Billund): {server.url}/overview: HTTP 500" in result.stderr
    assert {i["source"] for i in json_lines(config, "items")} == {"local"}


def test_a_broken_item_pdf_fails_its_meeting_only(tmp_path: Path, server: Server) -> None:
    serve(server, [ECONOMY, TECHNICAL])
    server.routes["/pdf/agendaitem/41236"] = Reply(status=500, headers={"Retry-After": "0"})
    server.raw("/pdf/agendaitem/41302", b"%PDF-1.7\n1 0 obj", "application/pdf")  # cut short
    config = write_portal_config(tmp_path, source(server.url))
    result = run_cli(config, "ingest")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == [
        f"error: source 'billund' (Billund): {server.url}/pdf/agendaitem/41236: HTTP 500 Internal Server Error (4 attempts)",
        f"error: source 'billund' (Billund): {server.url}{TECHNICAL.path} (Plan- og Miljøudvalget 20.05.2026): "
        f"{server.url}/pdf/agendaitem/41302: damaged or truncated PDF (no %%EOF end marker)",
    ]


def test_a_scanned_page_in_an_item_pdf_is_a_warning_naming_the_pdf_and_page(tmp_path: Path, server: Server) -> None:
    serve(server, [ECONOMY])
    item = ECONOMY.items[0]
    scan = make_scanned_pdf(tmp_path / "scan.pdf", list(item_lines(ECONOMY, item, False)), ["Bilag"])
    server.raw(pdf_path(item, False), scan.read_bytes(), "application/pdf")
    config = write_portal_config(tmp_path, source(server.url))
    result = run_cli(config, "ingest")
    assert result.exit_code == 0
    url = f"{server.url}{pdf_path(item, False)}"
    assert f"warning: source 'billund' (Billund): {url}: page 2 is a scanned image;" in result.stderr


def test_a_timeout_is_named_and_another_site_still_ingests(tmp_path: Path) -> None:
    with running(Server()) as slow, running(Server()) as good:
        serve(good, [TECHNICAL])
        slow.routes["/overview"] = Reply(body=overview_html([ECONOMY]).encode(), delay=1.0)
        path = write_portal_config(
            tmp_path, source(slow.url, name="billund"), source(good.url, name="norddjurs", kommune="Norddjurs")
        )
        config = load_config(path)
        with open_store(config) as store:
            settings = FetchSettings(timeout=0.2, connect_timeout=1, attempts=1, min_interval=0)
            with Fetcher(settings, cache=StoreCache(store, tmp_path / "cache"), sleep=lambda _: None) as fetcher:
                report = run_cycle(config, store, fetcher=fetcher)
    assert report.new == 2
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f"source 'billund' (Billund): {slow.url}/overview: timed out")


def test_a_changed_layout_is_a_warning_or_an_error_naming_the_source(tmp_path: Path) -> None:
    with running(Server()) as empty, running(Server()) as tabless, running(Server()) as good:
        empty.html("/overview", "<html><body><div class='meeting-card'>Økonomiudvalget 18.05.2026</div></body></html>")
        serve(tabless, [ECONOMY])
        tabless.html(ECONOMY.path, meeting_html(ECONOMY).replace("TabContent", "Panel"))
        serve(good, [TECHNICAL])
        config = write_portal_config(
            tmp_path,
            source(empty.url, name="empty", kommune="Billund"),
            source(tabless.url, name="tabless", kommune="Norddjurs"),
            source(good.url, name="good", kommune="Norddjurs"),
        )
        result = run_cli(config, "ingest")
    assert result.exit_code == 1
    assert "warning: source 'empty' (Billund): 0 meetings" in result.stderr
    assert (
        f"error: source 'tabless' (Norddjurs): {tabless.url}{ECONOMY.path} (Økonomiudvalget 18.05.2026): "
        f"{tabless.url}{ECONOMY.path}: no agendaTabContent or protocolTabContent on the meeting page – "
        "has the site's layout changed?"
    ) in result.stderr
    assert {i["source"] for i in json_lines(config, "items")} == {"good"}


def test_since_and_committees_choose_the_meetings_fetched(tmp_path: Path, server: Server) -> None:
    serve(server, billund())
    config = write_portal_config(tmp_path, source(server.url, 'committees = ["PLAN"]'))
    ingest(config)
    assert [p for p in server.paths() if "/meetings/" in p] == [TECHNICAL.path], "a case-insensitive part"
    (tmp_path / "state").rename(tmp_path / "state-1")
    server.requests.clear()
    config = write_portal_config(tmp_path, source(server.url).replace("2026-01-01", "2026-05-01"))
    ingest(config)
    assert [p for p in server.paths() if "/meetings/" in p] == [ECONOMY.path, TECHNICAL.path]
    assert server.count(CHILDREN.path) == 0 and server.count("/pdf/protocolitem/41102") == 0


def test_the_probe_recognises_a_meetings_plus_site_and_refuses_others() -> None:
    with running(Server()) as site, running(Server()) as nothing, running(Server()) as other:
        serve(site, billund())
        other.html("/overview", "<html><body><h1>Overview</h1><p>Our products</p></body></html>")
        with Fetcher(FetchSettings(attempts=1, min_interval=0)) as fetcher:
            found = MeetingsPlus.probe(fetcher, site.url + "/")
            missing = MeetingsPlus.probe(fetcher, nothing.url)
            unlike = MeetingsPlus.probe(fetcher, other.url)
    assert found.ok, found.message
    assert found.message == (
        f"{site.url} answers like a Formpipe Meetings+ site: 3 meetings of 3 committees on /overview, "
        "07.04.2026–20.05.2026"
    )
    assert not missing.ok and f"{nothing.url}/overview: HTTP 404" in missing.message
    assert not unlike.ok and "no rows" in unlike.message
