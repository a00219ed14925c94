"""The København source against a real local HTTP server imitating ``www.kk.dk``
(``tests/sites/kk_jsonapi.py``): the Drupal JSON:API list of agenda elements, paged with links on
the real host, grouped into meetings, and each item's own page."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path
from urllib.parse import parse_qs, quote

import pytest

from bot.config import load_config
from bot.errors import ParseError
from bot.fetch import Fetcher, FetchSettings
from bot.http_cache import StoreCache
from bot.run.pipeline import open_store, run_cycle
from bot.source_config import KkJsonApiSource
from bot.sources.base import SourceContext
from bot.sources.kk_jsonapi import KkJsonApi, parse_item_page, parse_page, rebase
from bot.sources.site import ZONE

from .helpers import json_lines, run_cli
from .portal import Reply, Server, running, write_portal_config
from .sites import folder_source, ingest
from .sites.kk_jsonapi import (
    AMAGER,
    BR,
    ECONOMY,
    LISTING,
    OLD,
    REAL,
    Item,
    Meeting,
    copenhagen,
    decided,
    item_html,
    listing_handler,
    serve,
)

NOW = datetime(2026, 12, 6, 12, tzinfo=ZONE)


def source(url: str, extra: str = "", name: str = "kk") -> str:
    return (
        f'name = "{name}"\nkommune = "København"\ntype = "kk-jsonapi"\nurl = "{url}"\n'
        f'min_interval = 0\nsince = "2026-11-01"\n{extra}'
    )


def page_path(meeting: Meeting, number: int, kind: str = "dagsorden") -> str:
    return quote(meeting.alias(meeting.items[number - 1], kind))


def pages(server: Server) -> list[str]:
    return [p for p in server.paths() if p.startswith("/dagsordener-og-referater/")]


def listing_json(meetings: list[Meeting], **query: str) -> bytes:
    asked = {"page[limit]": "50", **query}
    return listing_handler(meetings)({key: [value] for key, value in asked.items()}).body


# --- parsing ---------------------------------------------------------------------------------------


def test_listing_rows_give_committee_kind_and_number_from_the_alias() -> None:
    elements, following = parse_page(listing_json([decided(AMAGER), BR]), "listing")
    assert following is None
    assert [(e.committee, e.start.date(), e.number, e.minutes) for e in elements][:3] == [
        ("Borgerrepræsentationen", date(2026, 11, 19), 1, False),
        ("Borgerrepræsentationen", date(2026, 11, 19), 2, False),
        ("Borgerrepræsentationen", date(2026, 11, 19), 3, False),
    ]
    amager = [e for e in elements if e.committee == "Amager Øst Lokaludvalg"]
    assert [(e.minutes, e.start) for e in amager] == [(False, datetime(2026, 11, 26, tzinfo=ZONE))] + [
        (True, datetime(2026, 11, 26, tzinfo=ZONE))
    ], "a date without a time is midnight; the referat alias is a second row"
    assert elements[0].start == datetime(2026, 11, 19, 17, 30, tzinfo=ZONE)
    assert rebase(f"{REAL}{LISTING}?page%5Boffset%5D=50", "http://mirror.test") == (
        f"http://mirror.test{LISTING}?page%5Boffset%5D=50"
    )
    with pytest.raises(ParseError, match="not a JSON:API list of agenda elements"):
        parse_page(b'{"errors": [{"title": "Not Found"}]}', "listing")


def test_an_item_page_gives_its_text_after_the_title_its_documents_and_the_meeting_time() -> None:
    minutes = decided(BR)
    page = parse_item_page(item_html(minutes, minutes.items[1], "referat").encode(), "http://m.test/x/punkt-2")
    assert page.start == time(17, 30) and page.place == "Rådhuset, Borgerrepræsentationens mødesal"
    assert (
        page.body.split("\n")[0]
        == "Borgerrepræsentationen skal tage stilling til anlægsbevilling til skybrudsvej i Valby."
    )
    assert "Mødedato" not in page.body and "Se alle bilag" not in page.body and "Digital Post" not in page.body
    assert "## Beslutning" in page.body
    assert [(a.name, a.url) for a in page.attachments] == [
        ("Bilag 1 - Projektbeskrivelse", "http://m.test/system/files/agenda/20261119/2-1.pdf"),
        ("Bilag 2 - Kort over skybrudsvejen", "http://m.test/system/files/agenda/20261119/2-2.pdf"),
    ]
    with pytest.raises(ParseError, match=r"http://m.test/x: no <article> or <main> .* layout changed"):
        parse_item_page(
            b"<html><body><div class='page'><h2>Siden findes ikke</h2></div></body></html>", "http://m.test/x"
        )


# --- end to end ------------------------------------------------------------------------------------


def test_a_site_is_ingested_end_to_end_and_a_second_poll_fetches_nothing_new(tmp_path: Path, server: Server) -> None:
    serve(server, copenhagen())
    config = write_portal_config(tmp_path, source(server.url))
    assert (
        ingest(config) == "3 documents read (0 unchanged): 5 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    )
    [listing] = [s for s in server.requests if s.path == LISTING]
    asked = parse_qs(listing.query)
    assert asked["filter[a][condition][value]"] == ["2026-11-01"] and asked["filter[a][condition][operator]"] == [">="]
    assert asked["filter[b][condition][operator]"] == ["<"] and asked["page[limit]"] == ["50"]
    assert asked["fields[node--agenda_element]"] == ["title,path,agenda_meeting_date,agenda_element_serial_no"]

    items = json_lines(config, "items")
    assert [(i["committee"], i["meeting_date"], i["meeting_start"], i["number"], i["title"]) for i in items] == [
        ("Borgerrepræsentationen", "2026-11-19", "17:30", 1, "Valg af medlem til Kultur- og Fritidsudvalget"),
        ("Borgerrepræsentationen", "2026-11-19", "17:30", 2, "Skybrudsprojekt i Valby"),
        ("Borgerrepræsentationen", "2026-11-19", "17:30", 3, "Lokalplan Jernbanebyen II"),
        ("Økonomiudvalget", "2026-11-24", "15:30", 1, "Budgetopfølgning 3. kvartal 2026"),
        ("Amager Øst Lokaludvalg", "2026-11-26", "19:30", 1, "Puljeansøgninger november"),
    ], "a local committee too; its time from the item page when the listing has only a date"
    skybrud = items[1]
    assert {i["doc_kind"] for i in items} == {"dagsorden"} and skybrud["kommune"] == "København"
    assert skybrud["sections"] == {
        "Tekst": "Borgerrepræsentationen skal tage stilling til anlægsbevilling til skybrudsvej i Valby.",
        "Indstilling": "Teknik- og Miljøudvalget indstiller, at der gives en anlægsbevilling på 48 mio. kr.",
        "Økonomi": "Projektet finansieres af HOFOR via vandtaksterne.",
        "Bilag": "- Bilag 1 - Projektbeskrivelse\n- Bilag 2 - Kort over skybrudsvejen",
    }
    assert skybrud["url"] == server.url + page_path(BR, 2) and skybrud["place"] == BR.place
    assert skybrud["url"].endswith("/Borgerrepr%C3%A6sentationen/m%C3%B8de-19112026/dagsorden/punkt-2")
    assert skybrud["attachments"][1] == {
        "name": "Bilag 2 - Kort over skybrudsvejen",
        "url": f"{server.url}/system/files/agenda/20261119/2-2.pdf",
    }
    sha = skybrud["document"]["raw_sha256"]
    archived = (tmp_path / "state" / "archive" / sha[:2] / sha).read_bytes()
    assert archived.startswith(f"\n--- {server.url}{LISTING}?".encode()) and archived.count(b"<!DOCTYPE html>") == 3
    assert json.dumps(BR.alias(BR.items[1], "dagsorden"), ensure_ascii=False).encode() in archived

    events = len(json_lines(config, "events"))
    assert (
        ingest(config) == "0 documents read (0 unchanged): 0 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    )
    assert len(json_lines(config, "events")) == events
    assert len(pages(server)) == 5, "the aliases did not change: no item page is fetched again"
    listings = [s for s in server.requests if s.path == LISTING]
    assert len(listings) == 2 and "if-none-match" in listings[1].headers


def test_the_minutes_add_decisions_to_the_agenda_items(tmp_path: Path, server: Server) -> None:
    serve(server, copenhagen())
    config = write_portal_config(tmp_path, source(server.url))
    ingest(config)
    serve(server, [OLD, decided(BR), ECONOMY, AMAGER])

    assert ingest(config) == "1 document read (0 unchanged): 0 new, 3 changed, 0 removed items; 0 new matches; 0 errors"
    changed = [e for e in json_lines(config, "events") if e["kind"] == "changed"]
    assert [(e["committee"], e["number"], e["decision_added"], e["changed_sections"]) for e in changed] == [
        ("Borgerrepræsentationen", 1, True, ["Beslutning"]),
        ("Borgerrepræsentationen", 2, True, ["Beslutning"]),
        ("Borgerrepræsentationen", 3, True, ["Beslutning"]),
    ]
    skybrud = json_lines(config, "items")[1]
    assert (skybrud["version"], skybrud["doc_kind"]) == (2, "referat")
    assert skybrud["decision"] == "Indstillingen blev godkendt uden afstemning."
    assert skybrud["url"].endswith("/referat/punkt-2"), "the referat page of the merged item is read"
    assert server.count(page_path(BR, 2, "referat")) == 1 and server.count(page_path(BR, 2)) == 1


def test_next_links_on_the_real_host_are_followed_on_the_configured_one(server: Server) -> None:
    many = Meeting(
        "Borgerrepræsentationen", date(2026, 12, 3), 17, tuple(Item(n, f"Punkt {n}", "x") for n in range(1, 61))
    )
    serve(server, [many, ECONOMY])
    config = KkJsonApiSource.model_validate(
        {"name": "kk", "kommune": "København", "type": "kk-jsonapi", "url": server.url, "since": "2026-11-01"}
    )
    with Fetcher(FetchSettings(min_interval=0)) as fetcher:
        meetings = list(KkJsonApi(config, SourceContext(now=NOW)).list_meetings(fetcher))
    assert [(m.committee, m.start.date(), m.kind) for m in meetings] == [
        ("Økonomiudvalget", date(2026, 11, 24), "dagsorden"),
        ("Borgerrepræsentationen", date(2026, 12, 3), "dagsorden"),
    ]
    assert len(meetings[1].signature.split("\n")) == 60
    assert (
        meetings[1].url
        == f"{server.url}/dagsordener-og-referater/Borgerrepr%C3%A6sentationen/m%C3%B8de-03122026/dagsorden"
    )
    offsets = [parse_qs(s.query).get("page[offset]") for s in server.requests if s.path == LISTING]
    assert offsets == [None, ["50"]]


# --- failures ----------------------------------------------------------------------------------------


def test_a_server_error_is_named_and_the_other_source_still_ingests(tmp_path: Path, server: Server) -> None:
    server.routes[LISTING] = Reply(
        status=500, body=b"The website encountered an unexpected error.", headers={"Retry-After": "0"}
    )
    config = write_portal_config(tmp_path, source(server.url), folder_source(tmp_path))
    result = run_cli(config, "ingest")
    assert result.exit_code == 1
    assert f"error: source 'kk' (København): {server.url}{LISTING}?filter%5Ba%5D" in result.stderr
    assert "HTTP 500 Internal Server Error (4 attempts)" in result.stderr
    assert {i["source"] for i in json_lines(config, "items")} == {"local"}


def test_a_timeout_is_named_and_another_source_still_ingests(tmp_path: Path, server: Server) -> None:
    serve(server, copenhagen())
    server.routes[page_path(ECONOMY, 1)] = Reply(body=b"<html></html>", delay=1.0)
    config = load_config(write_portal_config(tmp_path, source(server.url), folder_source(tmp_path)))
    with open_store(config) as store:
        settings = FetchSettings(timeout=0.2, connect_timeout=1, attempts=1, min_interval=0)
        with Fetcher(settings, cache=StoreCache(store, tmp_path / "cache"), sleep=lambda _: None) as fetcher:
            report = run_cycle(config, store, fetcher=fetcher, now=NOW)
    assert report.new == 4 + 4, "the other two meetings and the folder's four items"
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f"source 'kk' (København): {server.url}{page_path(ECONOMY, 1)}: timed out")


def test_a_changed_layout_is_an_error_or_a_warning_naming_the_source(tmp_path: Path) -> None:
    with running(Server()) as bare, running(Server()) as other, running(Server()) as good:
        serve(bare, [ECONOMY])
        bare.html(page_path(ECONOMY, 1), "<html><body><div class='content'><p>Budgetopfølgning</p></div></body></html>")
        other.json(LISTING, {"jsonapi": {"version": "1.0"}, "data": [], "links": {}})
        serve(good, [AMAGER])
        config = write_portal_config(
            tmp_path, source(bare.url, name="bare"), source(other.url, name="other"), source(good.url, name="good")
        )
        result = run_cli(config, "ingest")
    assert result.exit_code == 1
    assert (
        f"error: source 'bare' (København): {bare.url}/dagsordener-og-referater/%C3%98konomiudvalget/"
        f"m%C3%B8de-24112026/dagsorden (Økonomiudvalget 24.11.2026): {bare.url}{page_path(ECONOMY, 1)}: "
        "no <article> or <main> with the item's <h1> – has the site's layout changed?"
    ) in result.stderr
    assert "warning: source 'other' (København): 0 meetings" in result.stderr
    assert {i["source"] for i in json_lines(config, "items")} == {"good"}


def test_since_and_committees_choose_the_meetings_fetched(tmp_path: Path, server: Server) -> None:
    serve(server, copenhagen())
    config = write_portal_config(tmp_path, source(server.url, 'committees = ["LOKALUDVALG"]'))
    ingest(config)
    assert pages(server) == [page_path(AMAGER, 1)], "a case-insensitive part of the name"
    (tmp_path / "state").rename(tmp_path / "state-1")
    server.requests.clear()
    config = write_portal_config(
        tmp_path, source(server.url, 'committees = ["Økonomi"]').replace("2026-11-01", "2026-10-01")
    )
    ingest(config)
    assert pages(server) == [page_path(OLD, 1), page_path(ECONOMY, 1)]
    [listing] = [parse_qs(s.query) for s in server.requests if s.path == LISTING]
    assert listing["filter[a][condition][value]"] == ["2026-10-01"]


def test_the_probe_recognises_the_json_api_and_refuses_others() -> None:
    today = datetime.now(ZONE).date()
    near = Meeting("Økonomiudvalget", today, 15, (Item(1, "Budget", "x"), Item(2, "Regnskab", "y")))
    with running(Server()) as site, running(Server()) as nothing, running(Server()) as other:
        serve(site, [near])
        other.json(LISTING, {"errors": [{"title": "Forbidden", "status": "403"}]})
        with Fetcher(FetchSettings(attempts=1, min_interval=0)) as fetcher:
            found = KkJsonApi.probe(fetcher, site.url + "/")
            missing = KkJsonApi.probe(fetcher, nothing.url)
            unlike = KkJsonApi.probe(fetcher, other.url)
    assert found.ok and found.message.startswith(
        f"{site.url} answers like København's Drupal JSON:API: 2 agenda items of 1 committee from"
    )
    assert not missing.ok and f"{nothing.url}{LISTING}?" in missing.message and "HTTP 404" in missing.message
    assert not unlike.ok and "not a JSON:API list of agenda elements" in unlike.message
