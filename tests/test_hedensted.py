"""The Hedensted source against a local imitation of its site (``tests/sites/hedensted.py``):
committee pages, the SBSYS agenda lists and the meeting pages, read through the real CLI."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pytest

from bot.config import load_config
from bot.fetch import Fetcher, FetchSettings, HTTPStatusError
from bot.sources.hedensted import HedenstedSite, agenda_links, committee_page, meetings_of
from bot.sources.html_items import page_root

from .helpers import json_lines, run_cli
from .portal import Reply, Server, running, write_portal_config
from .sites import folder_source, ingest
from .sites.hedensted import LIST, OVERVIEW, Item, Meeting, standard_site

LABEL = "source 'hedensted' (Hedensted): "
KLIMA = f"{OVERVIEW}/udvalget-for-klima-natur-og-miljoe-dagsordener-og-referater"
FAILING = Reply(status=500, body=b"Server Error", headers={"Retry-After": "0"}, validators=False)


def source(url: str, extra: str = "") -> str:
    return f'name = "hedensted"\nkommune = "Hedensted"\ntype = "hedensted"\nurl = "{url}"\nmin_interval = 0\nsince = "2026-01-01"\n{extra}'


def test_committees_meetings_and_items_are_read_with_sections_and_links(tmp_path: Path, server: Server) -> None:
    standard_site().install(server)
    config = write_portal_config(tmp_path, source(server.url))
    assert (
        ingest(config) == "2 documents read (0 unchanged): 4 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    )

    items = json_lines(config, "items")
    assert [(i["committee"], i["meeting_date"], i["number"], i["title"]) for i in items] == [
        ("Udvalget for Klima, Natur og Miljø", "2026-05-12", 1, "Godkendelse af dagsorden"),
        ("Udvalget for Klima, Natur og Miljø", "2026-05-12", 2, "Klimatilpasning af Hedensted Å – forundersøgelse"),
        ("Udvalget for Klima, Natur og Miljø", "2026-05-12", 3, "Lukket punkt: Erhvervelse af areal ved Løsning"),
        ("Børne- og Familieudvalget", "2026-05-19", 1, "Dagtilbudsstruktur 2027"),
    ]
    case = items[1]
    assert (case["doc_kind"], case["meeting_start"], case["place"]) == (
        "dagsorden",
        "15:00",
        "Rådhuset, Niels Espes Vej 8, mødelokale 2",
    )
    assert case["case_number"] == "06.02.03-P20-4-26"
    assert list(case["sections"]) == ["Beslutningstema", "Sagsfremstilling", "Økonomi", "Indstilling", "Bilag"]
    assert (
        case["sections"]["Sagsfremstilling"]
        == "Åen gik over sine bredder tre gange i 2025.\n\nForundersøgelsen tager et år."
    )
    assert case["decision"] is None, "the agenda: no decision yet"
    assert case["url"] == f"{server.url}{KLIMA}/dagsorden/12-05-2026"
    assert case["attachments"] == [
        {"name": "Kort over oplandet", "url": f"{server.url}/media/4412/kort-over-oplandet.pdf"},
        {"name": "Notat om oversvømmelser", "url": f"{server.url}/media/4413/notat.pdf"},
    ]
    assert items[2]["closed"] is True and items[2]["sections"] == {}
    assert items[3]["meeting_start"] == "16:30" and items[3]["case_number"] == "28.00.00-A00-2-26"


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
    assert server.count(f"{KLIMA}/dagsorden/12-05-2026") == 1, "the meeting's links are unchanged: not read again"
    lists = [seen for seen in server.requests if seen.path == LIST]
    assert len(lists) == 4 and "if-none-match" in lists[-1].headers, "lists are asked for conditionally"


def test_the_minutes_replace_the_agenda_and_add_decisions(tmp_path: Path, server: Server) -> None:
    standard_site().install(server)
    config = write_portal_config(tmp_path, source(server.url))
    ingest(config)

    standard_site(minutes=True).install(server)  # the list now links the minutes as well
    assert ingest(config) == "1 document read (0 unchanged): 0 new, 2 changed, 0 removed items; 0 new matches; 0 errors"
    changed = [e for e in json_lines(config, "events") if e["kind"] == "changed"]
    assert [(e["number"], e["decision_added"], e["changed_sections"]) for e in changed] == [
        (1, True, ["Beslutning"]),
        (2, True, ["Beslutning"]),
    ]
    case = json_lines(config, "items")[1]
    assert (case["version"], case["doc_kind"], case["decision"]) == (2, "referat", "Godkendt.")
    assert case["url"] == f"{server.url}{KLIMA}/referat/12-05-2026"
    assert case["document"]["key"] == "udvalget-for-klima-natur-og-miljoe/2026-05-12"
    assert server.count(f"{KLIMA}/dagsorden/12-05-2026") == 1, "with the minutes out, the agenda is not read"
    assert server.count(f"{OVERVIEW}/boerne-og-familieudvalget-dagsordener-og-referater/dagsorden/19-05-2026") == 1


def test_the_imitated_agenda_list_wants_all_three_values(server: Server) -> None:
    standard_site().install(server)
    values = {"folderId": "2026UKlima", "pageUrl": KLIMA, "elementId": "5c1e"}
    with Fetcher(FetchSettings(min_interval=0, attempts=1)) as fetcher:
        assert b"list__link" in fetcher.get(f"{server.url}{LIST}?{urlencode(values)}").content
        for missing in values:
            query = urlencode({name: value for name, value in values.items() if name != missing})
            with pytest.raises(HTTPStatusError, match="HTTP 400"):
                fetcher.get(f"{server.url}{LIST}?{query}")


def test_the_adapter_sends_the_committee_pages_values(tmp_path: Path, server: Server) -> None:
    standard_site().install(server)
    ingest(write_portal_config(tmp_path, source(server.url)))
    asked = sorted(tuple(sorted(parse_qs(seen.query).items())) for seen in server.requests if seen.path == LIST)
    assert [dict(query)["folderId"] for query in asked] == [["2026UBoern"], ["2026UKlima"]]
    klima = dict(asked[1])
    assert klima["pageUrl"] == [KLIMA] and klima["elementId"][0].startswith("5c1e0b7a-")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (OVERVIEW, f"{OVERVIEW}: HTTP 500 Internal Server Error (4 attempts)"),
        (LIST, f"{LIST}?folderId="),
    ],
)
def test_a_server_error_names_the_source_and_the_other_source_is_ingested(
    tmp_path: Path, server: Server, path: str, expected: str
) -> None:
    standard_site().install(server)
    server.routes.pop(path, None)
    server.handlers.pop(path, None)
    server.routes[path] = FAILING
    config = write_portal_config(tmp_path, source(server.url), folder_source(tmp_path))
    result = run_cli(config, "ingest")
    assert result.exit_code == 1
    assert f"error: {LABEL}{server.url}{expected}" in result.stderr
    assert {i["source"] for i in json_lines(config, "items")} == {"local"}, "the folder source is still read"


def test_a_site_that_does_not_answer_in_time_is_an_error_naming_the_source(tmp_path: Path, server: Server) -> None:
    from bot.http_cache import StoreCache
    from bot.run.pipeline import open_store, run_cycle

    standard_site().install(server)
    server.routes[OVERVIEW] = Reply(body=b"<html></html>", delay=1.0)
    config = load_config(write_portal_config(tmp_path, source(server.url), folder_source(tmp_path)))
    with open_store(config) as store:
        settings = FetchSettings(timeout=0.2, connect_timeout=1, attempts=1, min_interval=0)
        with Fetcher(settings, cache=StoreCache(store, tmp_path / "cache")) as fetcher:
            report = run_cycle(config, store, fetcher=fetcher)
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f"{LABEL}{server.url}{OVERVIEW}: timed out")
    assert report.new == 4, "the folder source's items"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("items", "no agenda items found on the page – has the site's layout changed?"),
        ("committee pages", "no agenda list (data-listid, data-pageurl, data-elementid) on any committee page"),
        ("overview", "no links to committee pages – has the site's layout changed?"),
    ],
)
def test_a_changed_layout_is_a_clear_error_and_the_other_source_is_ingested(
    tmp_path: Path, server: Server, change: str, expected: str
) -> None:
    site = standard_site()
    site.install(server)
    klima = site.committees[0]
    if change == "items":  # the items are no longer <h2>N. Title</h2>
        page = server.routes[klima.meeting_path(klima.meetings[0], "dagsorden")].body.decode()
        server.html(klima.meeting_path(klima.meetings[0], "dagsorden"), page.replace("<h2>", "<h2 class='x'>Punkt "))
    elif change == "committee pages":
        for committee in site.committees:
            server.html(committee.path, server.routes[committee.path].body.decode().replace("data-listid", "data-id"))
    else:
        server.html(OVERVIEW, "<html><body><main><h1>Dagsordener og referater</h1></main></body></html>")
    config = write_portal_config(tmp_path, source(server.url), folder_source(tmp_path))
    result = run_cli(config, "ingest")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {LABEL}{server.url}") and expected in errors[0]
    assert "local" in {i["source"] for i in json_lines(config, "items")}


def test_one_committee_failing_is_a_warning_and_the_others_are_read(tmp_path: Path, server: Server) -> None:
    site = standard_site()
    site.install(server)
    server.routes[site.committees[1].path] = FAILING
    result = run_cli(write_portal_config(tmp_path, source(server.url)), "ingest")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("1 document read (0 unchanged): 3 new,")
    assert (
        f"warning: {LABEL}a committee's meetings could not be listed: {server.url}{site.committees[1].path}: HTTP 500"
        in result.stderr
    )


def test_no_meetings_in_the_window_is_a_warning_naming_the_source(tmp_path: Path, server: Server) -> None:
    standard_site().install(server)
    config = write_portal_config(tmp_path, source(server.url).replace("2026-01-01", "2027-01-01"))
    result = run_cli(config, "ingest")
    assert result.exit_code == 0 and f"warning: {LABEL}0 meetings in its window" in result.stderr
    assert not [p for p in server.paths() if "/dagsorden/" in p]


def test_committee_and_since_filters(tmp_path: Path, server: Server) -> None:
    site = standard_site()
    site.committees[0].meetings.append(Meeting(date(2025, 11, 4), (Item(1, "Budgetopfølgning"),)))
    site.install(server)
    config = write_portal_config(tmp_path, source(server.url, 'committees = ["KLIMA"]'))
    ingest(config)
    read = [p for p in server.paths() if "/dagsorden/" in p or "/referat/" in p]
    assert read == [f"{KLIMA}/dagsorden/12-05-2026"], "only Klima, and only since 2026-01-01"
    (tmp_path / "state").rename(tmp_path / "state-1")
    ingest(write_portal_config(tmp_path, source(server.url).replace("2026-01-01", "2025-11-01")))
    assert f"{KLIMA}/dagsorden/04-11-2025" in server.paths()


def test_the_probe_recognises_the_site_and_refuses_others(server: Server) -> None:
    standard_site().install(server)
    with running(Server()) as empty, Fetcher(FetchSettings(min_interval=0, attempts=1)) as fetcher:
        found = HedenstedSite.probe(fetcher, server.url)
        assert found.ok and found.message == f"{server.url} answers like a Hedensted (SBSYS) site: 2 committee pages"
        refused = HedenstedSite.probe(fetcher, empty.url)
        assert not refused.ok and f"{empty.url}{OVERVIEW}: HTTP 404" in refused.message
        empty.html(OVERVIEW, f'<html><body><a href="{KLIMA}">Klima</a></body></html>')
        empty.html(KLIMA, "<html><body><h1>Klima</h1></body></html>")
        refused = HedenstedSite.probe(fetcher, empty.url)
        assert not refused.ok and "has no SBSYS agenda list (data-listid)" in refused.message


def test_links_say_the_day_and_the_kind_and_the_minutes_win() -> None:
    fragment = f"""<div class="list"><ul>
    <li><a class="list__link" href="{KLIMA}/referat/12-05-2026">Referat 12. maj 2026</a></li>
    <li><a class="list__link" href="{KLIMA}/dagsorden/12-05-2026">Dagsorden 12. maj 2026</a></li>
    <li><a class="list__link" href="https://www.hedensted.dk{KLIMA}/tillaegsdagsorden/12-05-2026">Tillægsdagsorden</a></li>
    <li><a class="list__link" href="{KLIMA}/dagsorden/31-02-2026">Dagsorden</a></li>
    <li><a class="list__link" href="{KLIMA}/om-udvalget">Om udvalget</a></li>
    </ul></div>"""
    links = agenda_links(page_root(fragment.encode(), "list"), "https://x" + LIST)
    assert [(link.day, link.kind) for link in links] == [
        (date(2026, 5, 12), "referat"),
        (date(2026, 5, 12), "dagsorden"),
        (date(2026, 5, 12), "tillægsdagsorden"),
    ]
    page = committee_page(
        page_root(
            b'<title>Klima - dagsordener og referater | Hedensted Kommune</title><div data-listid="L" data-pageurl="/p" data-elementid="e"></div>',
            "c",
        ),
        KLIMA,
    )
    assert page is not None and page.name == "Klima"
    meetings = meetings_of(page, links, "https://x")
    assert [(m.key, m.kind, m.url.rsplit("/", 2)[-2]) for m in meetings] == [
        ("udvalget-for-klima-natur-og-miljoe/2026-05-12", "referat", "referat"),
        ("udvalget-for-klima-natur-og-miljoe/2026-05-12/tillaeg", "tillægsdagsorden", "tillaegsdagsorden"),
    ]
    assert "dagsorden/12-05-2026" in meetings[0].signature and "referat/12-05-2026" in meetings[0].signature


def test_a_poll_out_of_time_stops_and_is_not_blamed_on_a_committee(tmp_path: Path, server: Server) -> None:
    site = standard_site()
    site.install(server)
    slow = site.committees[1].path
    server.routes[slow] = Reply(body=server.routes[slow].body, headers=server.routes[slow].headers, delay=3)
    result = run_cli(write_portal_config(tmp_path, source(server.url, 'budget = "1s"')), "ingest")
    assert result.exit_code == 0, result.stderr
    assert f"warning: {LABEL}its time budget of 1s was used up" in result.stderr
    assert "could not be listed" not in result.stderr
