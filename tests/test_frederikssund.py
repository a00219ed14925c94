"""The Frederikssund source against a real local HTTP server imitating the kommune's pages
(``tests/sites/frederikssund.py``): the overview, committee pages by year, agenda and minutes
pages, failures, filters and the probe."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.fetch import Fetcher
from bot.sources.frederikssund import (
    Committee,
    FrederikssundSite,
    parse_committee,
    parse_meeting,
    parse_overview,
    without_superseded_agendas,
    years,
)
from bot.sources.site import ZONE

from .helpers import json_lines, run_cli
from .portal import Reply, Server, running, write_portal_config
from .sites import FAST, cycle, folder_source, ingest
from .sites.frederikssund import (
    OVERVIEW,
    Item,
    Meeting,
    Site,
    agenda_items,
    committee_page,
    meeting_page,
    overview_page,
)

LABEL = "source 'frederikssund' (Frederikssund)"
NOW = datetime.now(timezone.utc).astimezone(ZONE)
RECENT = datetime.combine(NOW.date() - timedelta(days=12), datetime.min.time()).replace(hour=16)
SINCE = RECENT.date() - timedelta(days=30)
ECONOMY = Committee("Oekonomiudvalget", "Økonomiudvalget")


def source(url: str, extra: str = "", since: date = SINCE) -> str:
    return (
        f'name = "frederikssund"\nkommune = "Frederikssund"\ntype = "frederikssund"\nurl = "{url}"\n'
        f'min_interval = 0\nsince = "{since.isoformat()}"\n{extra}'
    )


def site(start: datetime = RECENT) -> tuple[Site, Meeting]:
    agenda = Meeting("Oekonomiudvalget", start, "dagsorden", agenda_items())
    committees = {
        "Byraadet": "Byrådet",
        "Oekonomiudvalget": "Økonomiudvalget",
        "Klima-og-Miljoeudvalget": "Klima- og Miljøudvalget",
    }
    return Site(committees=committees, meetings=[agenda]), agenda


def requested(server: Server, path: str) -> list[str]:
    return [seen.query for seen in server.requests if seen.path == path]


# --- parsing ------------------------------------------------------------------------------------


def test_the_overview_gives_this_periods_committees_by_name() -> None:
    committees = parse_overview(
        overview_page(
            {"Byraadet": "Byrådet", "Oekonomiudvalget": "Økonomiudvalget"}, {"udvalg-2024-2025": "Udvalg 2024-2025"}
        ).encode()
    )
    assert committees == (Committee("Byraadet", "Byrådet"), ECONOMY), "no udvalg- slug, no breadcrumb"


def test_a_committee_page_gives_its_own_meetings_and_minutes_win_over_agendas() -> None:
    agenda = Meeting("Oekonomiudvalget", datetime(2026, 11, 24, 16, 0), "dagsorden", ())
    later = Meeting("Oekonomiudvalget", datetime(2026, 12, 8, 16, 30), "dagsorden", ())
    page = committee_page("Økonomiudvalget", [agenda, replace_kind(agenda), later], 2026)
    meetings = parse_committee(page.encode(), ECONOMY, "https://mirror.example")
    assert sorted((m.start, m.kind) for m in meetings) == [
        (datetime(2026, 11, 24, 16, 0, tzinfo=ZONE), "dagsorden"),
        (datetime(2026, 11, 24, 16, 0, tzinfo=ZONE), "referat"),
        (datetime(2026, 12, 8, 16, 30, tzinfo=ZONE), "dagsorden"),
    ], "Byrådet's meeting in the side box is not Økonomiudvalget's"
    minutes = next(m for m in meetings if m.kind == "referat")
    assert minutes.key == f"{OVERVIEW}/Oekonomiudvalget/2026-11-24_16-00/referat"
    assert minutes.url == "https://mirror.example" + minutes.key and minutes.committee == "Økonomiudvalget"
    kept = without_superseded_agendas(meetings)
    assert sorted((m.start.day, m.kind) for m in kept) == [(8, "dagsorden"), (24, "referat")]


def replace_kind(meeting: Meeting) -> Meeting:
    return Meeting(meeting.slug, meeting.start, "referat", meeting.items)


def test_a_meeting_page_gives_items_sections_decisions_and_attachments() -> None:
    minutes = Meeting("Oekonomiudvalget", datetime(2026, 11, 24, 16, 0), "referat", agenda_items(decided=True))
    [listed] = parse_committee(committee_page("Økonomiudvalget", [minutes], 2026).encode(), ECONOMY, "https://a")
    parsed = parse_meeting(meeting_page("Økonomiudvalget", minutes).encode(), listed)
    assert (parsed.kind, parsed.committee, parsed.date) == ("referat", "Økonomiudvalget", date(2026, 11, 24))
    assert parsed.start is not None and parsed.start.strftime("%H:%M") == "16:00"
    assert [(i.number, i.title) for i in parsed.items] == [
        (1, "Godkendelse af dagsorden"),
        (2, "Klimatilpasning i Jyllinge Nordmark – anlægsbevilling"),
        (3, "Lukket punkt: Køb af ejendom"),
    ]
    plan = parsed.items[1]
    assert plan.url == f"https://a{OVERVIEW}/Oekonomiudvalget/2026-11-24_16-00/referat#item-2"
    assert plan.case_number == "26/01234"
    assert list(plan.section_map()) == ["Resume", "Indstilling", "Sagsfremstilling", "Økonomi", "Beslutning", "Bilag"]
    assert plan.section_map()["Sagsfremstilling"].endswith("Diget forhøjes til kote 2,7.")
    assert plan.decision == "Anbefales over for Byrådet."
    assert [(a.name, a.url) for a in plan.attachments] == [
        ("Projektbeskrivelse", "https://a/media/41234/projektbeskrivelse.pdf"),
        ("Tidsplan", "https://a/media/41235/tidsplan.pdf"),
    ]
    assert parsed.items[2].closed and not parsed.items[2].sections


def test_an_item_without_its_anchor_is_a_clear_error() -> None:
    minutes = Meeting("Oekonomiudvalget", datetime(2026, 11, 24, 16, 0), "referat", agenda_items())
    [listed] = parse_committee(committee_page("Økonomiudvalget", [minutes], 2026).encode(), ECONOMY, "https://a")
    page = meeting_page("Økonomiudvalget", minutes).replace('id="item-2"', 'id="punkt-2"')
    with pytest.raises(ParseError, match=r'item 2 has no element id="item-2" – has the site\'s layout changed\?'):
        parse_meeting(page.encode(), listed)


def test_the_years_read_run_from_since_to_this_year_and_the_next_near_new_year() -> None:
    june, december = datetime(2026, 6, 1, tzinfo=timezone.utc), datetime(2026, 12, 6, tzinfo=timezone.utc)
    assert years(date(2025, 3, 1), june) == [2025, 2026]
    assert years(date(2026, 3, 1), december) == [2026, 2027]
    assert years(date(2027, 3, 1), june) == [2026], "a since in the future still reads this year"


# --- end to end ---------------------------------------------------------------------------------


def test_the_site_is_ingested_end_to_end_and_a_second_run_changes_nothing(tmp_path: Path, server: Server) -> None:
    pages, agenda = site()
    pages.install(server)
    config = write_portal_config(tmp_path, source(server.url))
    assert ingest(config) == "1 document read (0 unchanged): 3 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    items = json_lines(config, "items")
    assert [(i["number"], i["title"], i["closed"]) for i in items] == [
        (1, "Godkendelse af dagsorden", False),
        (2, "Klimatilpasning i Jyllinge Nordmark – anlægsbevilling", False),
        (3, "Lukket punkt: Køb af ejendom", True),
    ]
    plan = items[1]
    assert (plan["kommune"], plan["committee"], plan["meeting_date"]) == (
        "Frederikssund",
        "Økonomiudvalget",
        RECENT.date().isoformat(),
    )
    assert (plan["meeting_start"], plan["doc_kind"], plan["case_number"]) == ("16:00", "dagsorden", "26/01234")
    assert plan["url"] == f"{server.url}{agenda.path}#item-2" and plan["decision"] is None
    assert plan["sections"]["Resume"].startswith("Sagen handler om anlægsbevilling")
    assert plan["attachments"][1] == {"name": "Tidsplan", "url": f"{server.url}/media/41235/tidsplan.pdf"}
    assert plan["document"]["key"] == agenda.path

    assert ingest(config) == "1 document read (1 unchanged): 0 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    assert len(json_lines(config, "events")) == 3
    pages_read = [seen for seen in server.requests if seen.path == agenda.path]
    assert len(pages_read) == 2 and "if-none-match" in pages_read[1].headers, "a recent meeting: a conditional GET"
    overviews = [seen for seen in server.requests if seen.path == OVERVIEW]
    assert "if-none-match" in overviews[1].headers
    assert not requested(server, f"{OVERVIEW}/udvalg-2024-2025"), "the previous period is skipped"
    expected = ["" if year == NOW.year else f"year={year}" for year in years(SINCE, NOW)]
    assert requested(server, f"{OVERVIEW}/Byraadet")[: len(expected)] == expected, "this year's page has no ?year"


def test_the_minutes_add_decisions_to_the_agenda_items(tmp_path: Path, server: Server) -> None:
    pages, agenda = site()
    pages.install(server)
    config = write_portal_config(tmp_path, source(server.url))
    ingest(config)
    minutes = pages.publish_minutes(agenda, agenda_items(decided=True))
    pages.install(server)
    assert ingest(config) == "1 document read (0 unchanged): 0 new, 2 changed, 0 removed items; 0 new matches; 0 errors"
    changed = [e for e in json_lines(config, "events") if e["kind"] == "changed"]
    assert [(e["number"], e["decision_added"], e["changed_sections"]) for e in changed] == [
        (1, True, ["Beslutning"]),
        (2, True, ["Beslutning"]),
    ]
    plan = json_lines(config, "items")[1]
    assert (plan["version"], plan["doc_kind"], plan["decision"]) == (2, "referat", "Anbefales over for Byrådet.")
    assert plan["url"] == f"{server.url}{minutes.path}#item-2" and plan["document"]["key"] == minutes.path
    ingest(config)
    assert server.count(agenda.path) == 1, "once the minutes are listed, the agenda is not read again"


def test_settled_meetings_are_read_once(tmp_path: Path, server: Server) -> None:
    old = RECENT - timedelta(days=100)
    pages, agenda = site(old)
    pages.install(server)
    config = write_portal_config(tmp_path, source(server.url, since=old.date() - timedelta(days=1)))
    ingest(config)
    ingest(config)
    assert server.count(agenda.path) == 1


def test_committee_and_since_filters(tmp_path: Path, server: Server) -> None:
    pages, agenda = site()
    older = Meeting("Klima-og-Miljoeudvalget", RECENT - timedelta(days=20), "referat", agenda_items(decided=True))
    climate = Meeting("Klima-og-Miljoeudvalget", RECENT, "dagsorden", (Item(1, "Skybrudsplan for Slangerup"),))
    pages.meetings += [older, climate]
    pages.install(server)
    config = write_portal_config(tmp_path, source(server.url, 'committees = ["klima"]'))
    assert ingest(config).startswith("2 documents read")
    assert not requested(server, f"{OVERVIEW}/Oekonomiudvalget"), "an unwanted committee's pages are not read"
    assert server.count(agenda.path) == 0
    (tmp_path / "state").rename(tmp_path / "state-1")
    config = write_portal_config(tmp_path, source(server.url, since=RECENT.date() - timedelta(days=1)))
    assert ingest(config).startswith("2 documents read")
    assert server.count(older.path) == 1, "the older meeting is before since"


# --- failures -----------------------------------------------------------------------------------


def test_a_failing_overview_is_an_error_and_the_other_source_is_ingested(tmp_path: Path, server: Server) -> None:
    site()[0].install(server)
    server.routes[OVERVIEW] = Reply(status=500, body=b"Server Error")
    report = cycle(write_portal_config(tmp_path, source(server.url), folder_source(tmp_path)))
    assert report.errors == [f"{LABEL}: {server.url}{OVERVIEW}: HTTP 500 Internal Server Error"]
    assert report.documents == 1 and report.new == 4, "the folder source is read"


def test_a_failing_or_slow_meeting_is_an_error_and_the_others_are_stored(tmp_path: Path, server: Server) -> None:
    pages, agenda = site()
    broken = Meeting("Byraadet", RECENT + timedelta(days=1), "dagsorden", agenda_items())
    slow = Meeting("Byraadet", RECENT + timedelta(days=2), "dagsorden", agenda_items())
    pages.meetings += [broken, slow]
    pages.install(server)
    server.script(broken.path, Reply(status=500))
    server.script(slow.path, Reply(delay=1.0, body=b"<span class='no'>1</span>"))
    report = cycle(write_portal_config(tmp_path, source(server.url), folder_source(tmp_path)))
    assert report.errors == [
        f"{LABEL}: {server.url}{broken.path}: HTTP 500 Internal Server Error",
        f"{LABEL}: {server.url}{slow.path}: timed out (ReadTimeout: timed out)",
    ]
    assert report.documents == 2 and report.new == 3 + 4


def test_a_changed_layout_is_named(tmp_path: Path, server: Server) -> None:
    pages, agenda = site()
    pages.install(server)
    server.html(agenda.path, "<html><body><ol class='punkter'><li>1 Godkendelse</li></ol></body></html>")
    result = run_cli(write_portal_config(tmp_path, source(server.url)), "ingest")
    assert result.exit_code == 1
    assert (
        f"error: {LABEL}: {server.url}{agenda.path} (Økonomiudvalget {RECENT:%d.%m.%Y}): no agenda items found "
        "on the page – has the site's layout changed?"
    ) in result.stderr
    server.html(OVERVIEW, "<html><body><p>Siden er flyttet.</p></body></html>")
    result = run_cli(write_portal_config(tmp_path, source(server.url)), "ingest")
    assert f"warning: {LABEL}: 0 meetings in its window – has the site changed?" in result.stderr


# --- probe --------------------------------------------------------------------------------------


def test_the_probe_recognises_the_site_and_refuses_another(server: Server) -> None:
    site()[0].install(server)
    with Fetcher(FAST) as fetcher:
        found = FrederikssundSite.probe(fetcher, server.url)
    assert found.ok and found.message == f"{server.url} answers like Frederikssund's site: 3 committees"
    with running(Server()) as other, Fetcher(FAST) as fetcher:
        refused = FrederikssundSite.probe(fetcher, other.url)
        other.html(OVERVIEW, "<html><body><a href='/Politik'>Politik</a></body></html>")
        empty = FrederikssundSite.probe(fetcher, other.url)
    assert not refused.ok and "HTTP 404" in refused.message
    assert not empty.ok and empty.message.endswith("links no committee pages: not Frederikssund's site")
