"""The Ringkøbing-Skjern source against a local imitation of its site (``tests/sites/rksk.py``):
the byråd's and the committees' lists and the meeting pages (UTF-8 without a charset, with
megabytes of inline images), read through the real CLI."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path

import lxml.html
import pytest

from bot.config import load_config
from bot.fetch import Fetcher, FetchSettings
from bot.parse.minutes import DocKind
from bot.sources.html_items import drop_data_uris, page_root
from bot.sources.rksk import RkskSite, list_rows, parse_meeting
from bot.sources.site import ZONE, SiteMeeting

from .helpers import json_lines, run_cli
from .portal import Reply, Server, running, write_portal_config
from .sites import folder_source, ingest
from .sites.rksk import BYRAAD, COMMITTEES, Committee, Item, Meeting, economy_items, meeting_page, standard_site

LABEL = "source 'rksk' (Ringkøbing-Skjern): "
ECONOMY = f"{COMMITTEES}/oekonomiudvalget/dagsorden-og-referat"
FAILING = Reply(status=500, body=b"Server Error", headers={"Retry-After": "0"}, validators=False)


def source(url: str, extra: str = "") -> str:
    return (
        f'name = "rksk"\nkommune = "Ringkøbing-Skjern"\ntype = "rksk"\nurl = "{url}"\nmin_interval = 0\n'
        f'since = "2026-01-01"\n{extra}'
    )


def listed(committee: str = "Økonomiudvalget", kind: DocKind = "dagsorden") -> SiteMeeting:
    start = datetime(2026, 9, 22, tzinfo=ZONE)
    return SiteMeeting("5002", committee, start, kind, f"https://www.rksk.dk{ECONOMY}?AgendaID=5002")


def test_lists_meetings_and_items_are_read_with_sections_and_links(tmp_path: Path, server: Server) -> None:
    standard_site().install(server)
    config = write_portal_config(tmp_path, source(server.url))
    assert (
        ingest(config) == "2 documents read (0 unchanged): 4 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    )

    items = json_lines(config, "items")
    assert [(i["committee"], i["meeting_date"], i["number"], i["title"]) for i in items] == [
        ("Økonomiudvalget", "2026-09-22", 1, "Godkendelse af dagsorden"),
        ("Økonomiudvalget", "2026-09-22", 2, "Kystbeskyttelse ved Søndervig – anlægsbevilling"),
        ("Økonomiudvalget", "2026-09-22", 3, "Lukket punkt: Salg af erhvervsgrund i Tarm"),
        ("Byrådet", "2026-09-29", 1, "Helhedsplan for Ringkøbing Fjord"),
    ]
    case = items[1]
    assert (case["doc_kind"], case["meeting_start"], case["place"]) == (
        "dagsorden",
        "15:00",
        "Rådhuset, Ringkøbing, mødelokale 2",
    )
    assert case["case_number"] == "26-012345"
    assert list(case["sections"]) == ["Sagsfremstilling", "Økonomi", "Indstilling", "Bilag"]
    assert case["sections"]["Indstilling"] == "Direktionen indstiller, at der gives en anlægsbevilling på 8,2 mio. kr."
    assert case["decision"] is None
    assert case["url"] == f"{server.url}{ECONOMY}?AgendaID=5002#3f2a1c9e-0b6d-4f57-9d3e-6a1b2c3d4e02"
    folder = f"{server.url}/Edoc/%C3%98konomiudvalget/2026-09-22%2015.00/Dagsorden"
    assert case["attachments"] == [
        {"name": "Projektbeskrivelse Søndervig", "url": f"{folder}/Bilag%201.pdf"},
        {"name": "Kort over kyststrækningen", "url": f"{folder}/Bilag%202.pdf"},
    ], "the Bilag links, not the item's Print link"
    assert items[2]["closed"] is True and items[2]["sections"] == {}
    assert items[3]["meeting_start"] == "18:00" and items[3]["url"].startswith(f"{server.url}{BYRAAD}?AgendaID=5001#")


def test_former_committees_are_not_read(tmp_path: Path, server: Server) -> None:
    standard_site().install(server)
    ingest(write_portal_config(tmp_path, source(server.url)))
    assert not [p for p in server.paths() if "/ref-" in p]
    assert f"{COMMITTEES}/oekonomiudvalget/medlemmer" not in server.paths(), "only the list sub-page is read"


def test_a_second_poll_with_nothing_new_reads_no_meeting_page_and_makes_no_events(
    tmp_path: Path, server: Server
) -> None:
    standard_site().install(server)
    config = write_portal_config(tmp_path, source(server.url))
    ingest(config)
    events = json_lines(config, "events")

    assert (
        ingest(config) == "0 documents read (0 unchanged): 0 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    )
    assert json_lines(config, "events") == events
    meeting_pages = [seen for seen in server.requests if "AgendaID" in seen.query]
    assert len(meeting_pages) == 2, "the rows are unchanged: the (large) meeting pages are not read again"
    lists = [seen for seen in server.requests if seen.path == BYRAAD and not seen.query]
    assert "if-none-match" in lists[-1].headers, "lists are asked for conditionally"


def test_the_minutes_at_the_same_address_add_decisions(tmp_path: Path, server: Server) -> None:
    standard_site().install(server)
    config = write_portal_config(tmp_path, source(server.url))
    ingest(config)

    standard_site(minutes=True).install(server)  # the row says "Referat" now; same AgendaID
    assert ingest(config) == "1 document read (0 unchanged): 0 new, 2 changed, 0 removed items; 0 new matches; 0 errors"
    changed = [e for e in json_lines(config, "events") if e["kind"] == "changed"]
    assert [(e["number"], e["decision_added"], e["changed_sections"]) for e in changed] == [
        (1, True, ["Beslutning"]),
        (2, True, ["Beslutning"]),
    ]
    case = json_lines(config, "items")[1]
    assert (case["version"], case["doc_kind"], case["decision"]) == (2, "referat", "Godkendt.")
    assert case["document"]["key"] == "5002"
    assert server.count(BYRAAD) == 3, "the byråd's list twice, its meeting once (unchanged row)"


def test_megabytes_of_inline_images_are_dropped_before_parsing_and_the_page_is_archived_as_served(
    tmp_path: Path, server: Server
) -> None:
    site = standard_site(image=4_000_000)
    site.install(server)
    served = server.routes[f"{ECONOMY}?AgendaID=5002"].body
    assert len(served) > 4_000_000 and b"data:image/png;base64,iVBOR" in served

    root = page_root(served, "page")  # its cost against a bare page: benchmarks/pages.py
    assert b"base64" not in lxml.html.tostring(root), "the images are cut out before parsing"
    parsed = parse_meeting(root, listed())
    text = " ".join(s.heading + s.text for item in parsed.items for s in item.sections)
    assert "base64" not in text and "iVBOR" not in text and "data:" not in text
    assert parsed.items[1].section_map()["Sagsfremstilling"].endswith("Projektet sikrer 1,4 km kyst.")

    config = write_portal_config(tmp_path, source(server.url))
    assert ingest(config).startswith("2 documents read (0 unchanged): 4 new,")
    case = json_lines(config, "items")[1]
    sha = hashlib.sha256(served).hexdigest()
    assert case["document"]["raw_sha256"] == sha, "the exact bytes served are the document"
    assert "iVBOR" not in str(case["sections"])


def test_only_inline_data_is_cut_out_not_text_that_mentions_it() -> None:
    page = (
        b'<p><img alt="Kort" src="data:image/png;base64,iVBORw0K\nGgo=="> Se kortet.</p>'
        b'<p style="background: url(\'data:image/svg+xml;base64,PHN2Zz4=\')">Skemaet viser "data: 2025".</p>'
    )
    assert drop_data_uris(page) == (
        b'<p><img alt="Kort" src=""> Se kortet.</p><p style="background: url()">Skemaet viser "data: 2025".</p>'
    )


def test_pages_without_a_charset_are_read_as_utf8() -> None:
    page = meeting_page(
        Committee("oekonomiudvalget", "Økonomiudvalget"), Meeting(5002, date(2026, 9, 22), economy_items())
    )
    parsed = parse_meeting(page_root(page.encode("utf-8"), "page"), listed())
    assert parsed.items[1].title == "Kystbeskyttelse ved Søndervig – anlægsbevilling"
    assert parsed.participants == ("Hans Østergaard (V)", "Kirstine Bille (SF)", "Søren Elbæk (A)")
    assert parsed.place == "Rådhuset, Ringkøbing, mødelokale 2"
    invalid = page.encode("utf-8").replace("Søndervig".encode(), b"S\xf8ndervig")  # a stray latin-1 byte
    assert parse_meeting(page_root(invalid, "page"), listed()).items[1].title.startswith("Kystbeskyttelse ved S")


def test_rows_give_the_id_day_committee_and_kind() -> None:
    html = f"""<table>
    <tr class="agenda--tr" onclick="top.location='{ECONOMY}?AgendaID=7'"><td>3</td><td>5. marts 2026 kl. 16:00</td>
        <td>Økonomiudvalget</td><td>Dagsorden</td></tr>
    <tr class="agenda--tr"><td>2</td><td>29. september 2026</td><td><a href="dagsorden-og-referat?AgendaID=8">Referat</a></td></tr>
    <tr class="agenda--tr"><td>1</td><td>ingen dato</td><td><a href="?AgendaID=9">Referat</a></td></tr>
    <tr class="agenda--tr"><td>1</td><td>1. maj 2026</td><td>Økonomiudvalget</td><td>Referat</td></tr>
    </table>"""
    rows = list_rows(page_root(html.encode(), "list"), f"https://www.rksk.dk{ECONOMY}", "Økonomiudvalget (side)")
    assert [(r.agenda_id, r.path, r.start, r.committee, r.label) for r in rows] == [
        ("7", f"{ECONOMY}?AgendaID=7", datetime(2026, 3, 5, 16, tzinfo=ZONE), "Økonomiudvalget", "Dagsorden"),
        ("8", f"{ECONOMY}?AgendaID=8", datetime(2026, 9, 29, tzinfo=ZONE), "Økonomiudvalget (side)", "Referat"),
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [(BYRAAD, f"{BYRAAD}: HTTP 500 Internal Server Error (4 attempts)"), (COMMITTEES, f"{COMMITTEES}: HTTP 500")],
)
def test_a_server_error_names_the_source_and_the_other_source_is_ingested(
    tmp_path: Path, server: Server, path: str, expected: str
) -> None:
    standard_site().install(server)
    server.routes[path] = FAILING
    config = write_portal_config(tmp_path, source(server.url), folder_source(tmp_path))
    result = run_cli(config, "ingest")
    assert result.exit_code == 1
    assert f"error: {LABEL}{server.url}{expected}" in result.stderr
    assert {i["source"] for i in json_lines(config, "items")} == {"local"}, "the folder source is still read"


def test_one_committee_failing_is_a_warning_and_the_byraad_is_read(tmp_path: Path, server: Server) -> None:
    standard_site().install(server)
    server.routes[ECONOMY] = FAILING
    result = run_cli(write_portal_config(tmp_path, source(server.url)), "ingest")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("1 document read (0 unchanged): 1 new,")
    assert (
        f"warning: {LABEL}a committee's meetings could not be listed: {server.url}{ECONOMY}: HTTP 500" in result.stderr
    )


def test_a_site_that_does_not_answer_in_time_is_an_error_naming_the_source(tmp_path: Path, server: Server) -> None:
    from bot.http_cache import StoreCache
    from bot.run.pipeline import open_store, run_cycle

    standard_site().install(server)
    server.routes[BYRAAD] = Reply(body=b"<html></html>", delay=1.0)
    config = load_config(write_portal_config(tmp_path, source(server.url), folder_source(tmp_path)))
    with open_store(config) as store:
        settings = FetchSettings(timeout=0.2, connect_timeout=1, attempts=1, min_interval=0)
        with Fetcher(settings, cache=StoreCache(store, tmp_path / "cache")) as fetcher:
            report = run_cycle(config, store, fetcher=fetcher)
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f"{LABEL}{server.url}{BYRAAD}: timed out")
    assert report.new == 4, "the folder source's items"


def test_meeting_pages_without_item_cards_are_a_clear_error(tmp_path: Path, server: Server) -> None:
    standard_site().install(server)
    path = f"{ECONOMY}?AgendaID=5002"
    changed = server.routes[path].body.replace(b"agenda--card agenda--item", b"edoc-item")
    server.routes[path] = Reply(body=changed, headers={"Content-Type": "text/html"})
    config = write_portal_config(tmp_path, source(server.url), folder_source(tmp_path))
    result = run_cli(config, "ingest")
    assert result.exit_code == 1
    assert (
        f"error: {LABEL}{server.url}{path} (Økonomiudvalget 22.09.2026): no agenda items found on the page – "
        "has the site's layout changed?" in result.stderr
    )
    assert {i["source"] for i in json_lines(config, "items")} == {"rksk", "local"}, "the byråd and the folder"


def test_lists_without_rows_are_a_warning_naming_the_source(tmp_path: Path, server: Server) -> None:
    standard_site().install(server)
    for path in (BYRAAD, ECONOMY):
        server.routes[path] = Reply(body=server.routes[path].body.replace(b"agenda--tr", b"row"))
    result = run_cli(write_portal_config(tmp_path, source(server.url)), "ingest")
    assert result.exit_code == 0
    assert f"warning: {LABEL}0 meetings in its window – has the site changed?" in result.stderr


def test_committee_and_since_filters(tmp_path: Path, server: Server) -> None:
    site = standard_site()
    site.committees[0].meetings.append(Meeting(4990, date(2025, 11, 25), (Item(1, "Budgetopfølgning", "g-1"),)))
    site.install(server)
    ingest(write_portal_config(tmp_path, source(server.url, 'committees = ["ØKONOMI"]')))
    assert [s.query for s in server.requests if "AgendaID" in s.query] == ["AgendaID=5002"]
    (tmp_path / "state").rename(tmp_path / "state-1")
    ingest(write_portal_config(tmp_path, source(server.url).replace("2026-01-01", "2025-11-01")))
    assert "AgendaID=4990" in [s.query for s in server.requests]


def test_the_probe_recognises_the_site_and_refuses_others(server: Server) -> None:
    standard_site().install(server)
    with running(Server()) as other, Fetcher(FetchSettings(min_interval=0, attempts=1)) as fetcher:
        found = RkskSite.probe(fetcher, server.url)
        assert found.ok and found.message == (
            f"{server.url} answers like a Ringkøbing-Skjern (eDoc) site: 1 byråd meeting, newest 29.09.2026"
        )
        refused = RkskSite.probe(fetcher, other.url)
        assert not refused.ok and f"{other.url}{BYRAAD}: HTTP 404" in refused.message
        other.html(BYRAAD, "<html><body><h1>Byrådet</h1><p>Siden er flyttet.</p></body></html>")
        refused = RkskSite.probe(fetcher, other.url)
        assert not refused.ok and "lists no meetings (tr.agenda--tr with an AgendaID)" in refused.message


def test_a_poll_out_of_time_stops_and_is_not_blamed_on_a_committee(tmp_path: Path, server: Server) -> None:
    standard_site().install(server)
    server.routes[ECONOMY] = Reply(body=server.routes[ECONOMY].body, delay=3)
    result = run_cli(write_portal_config(tmp_path, source(server.url, 'budget = "1s"')), "ingest")
    assert result.exit_code == 0, result.stderr
    assert f"warning: {LABEL}its time budget of 1s was used up" in result.stderr
    assert "could not be listed" not in result.stderr
