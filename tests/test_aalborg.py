"""The Aalborg source against a real local HTTP server imitating the minutes app
(``tests/sites/aalborg.py``): listing by committee id, the minutes' items, corrections, the
committee-id alarm, failures, filters and the probe."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from bot.fetch import Fetcher
from bot.sources.aalborg import AalborgApp, parse_list, parse_minutes

from .helpers import json_lines, run_cli
from .portal import Reply, Server, running, write_portal_config
from .sites import FAST, cycle, folder_source, ingest
from .sites.aalborg import LIST, VIEW, App, Item, Meeting, council_items, list_page, minutes_page, query

LABEL = "source 'aalborg' (Aalborg)"
TODAY = datetime.now(timezone.utc).date()
RECENT = TODAY - timedelta(days=12)  # within the days a meeting is read at every poll


def source(url: str, ids: str = "[15]", extra: str = "", since: date = RECENT - timedelta(days=30)) -> str:
    return (
        f'name = "aalborg"\nkommune = "Aalborg"\ntype = "aalborg"\nurl = "{url}"\nmin_interval = 0\n'
        f'since = "{since.isoformat()}"\ncommittee_ids = {ids}\n{extra}'
    )


def council(day: date = RECENT, decision: str = "Godkendt.") -> App:
    return App().add(15, "Byrådet", Meeting(5821, day, council_items(decision)))


# --- parsing ------------------------------------------------------------------------------------


def test_the_list_gives_each_meeting_with_its_query_on_the_configured_host() -> None:
    app = council(date(2026, 11, 23))
    page = list_page(15, "Byrådet", app.meetings[15])
    page = page.replace("</div>", '<a class="moede-link" href="http://localhost:5287/x?moedetitel=snart">?</a></div>')
    listing = parse_list(page.encode(), "https://mirror.example", 15)
    assert (listing.committee, listing.links) == ("Byrådet", 2)
    [meeting] = listing.meetings  # the anchor without a day cannot be placed
    assert meeting.key == "Id=15&moedeid=5821&moedetitel=2026-11-23%20Byr%C3%A5det"
    assert meeting.url == f"https://mirror.example{VIEW}?{meeting.key}", "localhost:5287 is never used"
    assert (meeting.committee, meeting.start.date(), meeting.kind) == ("Byrådet", date(2026, 11, 23), "referat")


def test_the_committee_is_named_by_the_list_heading_when_the_anchors_do_not() -> None:
    page = list_page(31, "Økonomiudvalget", [Meeting(1, date(2026, 10, 1), ())]).replace(" title=", " data-x=")
    [meeting] = parse_list(page.encode(), "https://a", 31).meetings
    assert meeting.committee == "Økonomiudvalget"


def test_the_minutes_page_gives_items_sections_decisions_and_attachments() -> None:
    app = council(date(2026, 11, 23))
    [listed] = parse_list(list_page(15, "Byrådet", app.meetings[15]).encode(), "https://a", 15).meetings
    parsed = parse_minutes(minutes_page("Byrådet", app.meetings[15][0]).encode(), listed, "https://a")
    assert (parsed.kind, parsed.committee, parsed.date) == ("referat", "Byrådet", date(2026, 11, 23))
    assert parsed.start is not None and parsed.start.strftime("%H:%M") == "16:00", "kl. 16.00 in the header"
    assert [(i.number, i.title) for i in parsed.items] == [
        (1, "Godkendelse af dagsorden"),
        (2, "Klimatilpasningsplan for Aalborg Øst – endelig vedtagelse"),
        (3, "Lukket punkt: Salg af byggegrund i Vejgaard"),
    ]
    plan = parsed.items[1]
    assert plan.case_number == "2026-004512" and plan.url == listed.url
    assert list(plan.section_map()) == ["Indstilling", "Sagsfremstilling", "Økonomi", "Beslutning", "Bilag"]
    assert plan.section_map()["Sagsfremstilling"].endswith("Der kom 14 høringssvar.")
    assert plan.decision == "Godkendt."
    assert [(a.name, a.url) for a in plan.attachments] == [
        ("Kort over projektområdet", "https://a/dagsordenreferat/bilag?id=9912"),
        ("Høringsnotat", "https://a/dagsordenreferat/bilag?id=9913"),
    ]
    assert parsed.items[2].closed and not parsed.items[2].sections


def test_items_wrapped_in_their_own_elements_are_read_the_same() -> None:
    app = council(date(2026, 11, 23))
    [listed] = parse_list(list_page(15, "Byrådet", app.meetings[15]).encode(), "https://a", 15).meetings
    page = minutes_page("Byrådet", app.meetings[15][0])
    wrapped = page.replace("<h3>1.", '<div class="punkt"><h3>1.').replace("<hr>", "</div>")
    wrapped = wrapped.replace("<h3>2.", '<div class="punkt"><h3>2.').replace("<h3>3.", '<div class="punkt"><h3>3.')
    plain = parse_minutes(page.encode(), listed, "https://a")
    assert parse_minutes(wrapped.encode(), listed, "https://a").items == plain.items


# --- end to end ---------------------------------------------------------------------------------


def test_the_app_is_ingested_end_to_end_and_a_second_run_changes_nothing(tmp_path: Path, server: Server) -> None:
    council().install(server)
    config = write_portal_config(tmp_path, source(server.url))
    assert ingest(config) == "1 document read (0 unchanged): 3 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    items = json_lines(config, "items")
    key = query(15, "Byrådet", Meeting(5821, RECENT, ()))
    assert [(i["number"], i["title"], i["closed"]) for i in items] == [
        (1, "Godkendelse af dagsorden", False),
        (2, "Klimatilpasningsplan for Aalborg Øst – endelig vedtagelse", False),
        (3, "Lukket punkt: Salg af byggegrund i Vejgaard", True),
    ]
    plan = items[1]
    assert (plan["kommune"], plan["committee"], plan["meeting_date"]) == ("Aalborg", "Byrådet", RECENT.isoformat())
    assert (plan["meeting_start"], plan["doc_kind"], plan["case_number"]) == ("16:00", "referat", "2026-004512")
    assert plan["url"] == f"{server.url}{VIEW}?{key}" and plan["decision"] == "Godkendt."
    assert plan["sections"]["Indstilling"].startswith("By- og Landskabsforvaltningen indstiller")
    assert plan["attachments"][0] == {
        "name": "Kort over projektområdet",
        "url": f"{server.url}/dagsordenreferat/bilag?id=9912",
    }

    assert ingest(config) == "1 document read (1 unchanged): 0 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    assert len(json_lines(config, "events")) == 3
    lists = [seen for seen in server.requests if seen.path == LIST]
    views = [seen for seen in server.requests if seen.path == VIEW]
    assert "if-none-match" not in lists[0].headers and "if-none-match" in lists[1].headers
    assert len(views) == 2 and "if-none-match" in views[1].headers, "a recent meeting: a conditional GET each poll"


def test_corrected_minutes_give_changed_events_and_a_new_meeting_new_ones(tmp_path: Path, server: Server) -> None:
    council().install(server)
    config = write_portal_config(tmp_path, source(server.url))
    ingest(config)
    corrected = council(decision="Godkendt med den ændring, at tidsplanen forlænges til 2032.")
    corrected.meetings[15].append(
        Meeting(
            5822,
            RECENT + timedelta(days=7),
            (Item(1, "Orientering om skybrudsindsatsen", sections=(("Beslutning", "Taget til efterretning."),)),),
        )
    )
    corrected.install(server)
    assert ingest(config).endswith("1 new, 1 changed, 0 removed items; 0 new matches; 0 errors")
    events = [(e["kind"], e["number"], e["changed_sections"]) for e in json_lines(config, "events")[3:]]
    assert events == [("changed", 2, ["Beslutning"]), ("new", 1, [])]
    assert json_lines(config, "items")[1]["decision"].startswith("Godkendt med den ændring")


def test_settled_minutes_are_read_once(tmp_path: Path, server: Server) -> None:
    old = TODAY - timedelta(days=100)
    council(old).install(server)
    config = write_portal_config(tmp_path, source(server.url, since=old - timedelta(days=1)))
    ingest(config)
    ingest(config)
    assert server.count(VIEW) == 1, "a meeting older than the settling time is not fetched again"


def test_a_committee_id_without_meetings_raises_the_alarm(tmp_path: Path, server: Server) -> None:
    council().add(99, "Udvalget").install(server)
    config = write_portal_config(tmp_path, source(server.url, ids="[15, 99]"))
    result = run_cli(config, "ingest")
    assert result.exit_code == 0 and result.stdout.startswith("1 document read (0 unchanged): 3 new,")
    assert (
        f"warning: {LABEL}: committee id 99 lists no meetings ({server.url}{LIST}?Id=99) – has the site changed, "
        "or has a new council new committee ids?"
    ) in result.stderr


def test_committee_and_since_filters(tmp_path: Path, server: Server) -> None:
    app = council()
    app.add(
        31,
        "Økonomiudvalget",
        Meeting(7001, RECENT, (Item(1, "Budgetopfølgning", sections=(("Beslutning", "Godkendt."),)),)),
    )
    app.meetings[15].append(Meeting(5700, RECENT - timedelta(days=40), council_items()))
    app.install(server)
    config = write_portal_config(tmp_path, source(server.url, ids="[15, 31]", extra='committees = ["økonomi"]'))
    assert ingest(config).startswith("1 document read")
    assert [seen.query for seen in server.requests if seen.path == VIEW] == [
        query(31, "Økonomiudvalget", app.meetings[31][0])
    ]
    (tmp_path / "state").rename(tmp_path / "state-1")
    config = write_portal_config(tmp_path, source(server.url, ids="[15, 31]", since=RECENT - timedelta(days=1)))
    ingest(config)
    assert {i["meeting_date"] for i in json_lines(config, "items")} == {RECENT.isoformat()}, (
        "the older meeting is before since"
    )


# --- failures -----------------------------------------------------------------------------------


def test_a_failing_list_is_an_error_and_the_other_source_is_ingested(tmp_path: Path, server: Server) -> None:
    council().install(server)
    server.routes[f"{LIST}?Id=15"] = Reply(status=500, body=b"Internal Server Error")
    report = cycle(write_portal_config(tmp_path, source(server.url), folder_source(tmp_path)))
    assert report.errors == [f"{LABEL}: {server.url}{LIST}?Id=15: HTTP 500 Internal Server Error"]
    assert report.documents == 1 and report.new == 4, "the folder source is read"


def test_a_failing_or_slow_meeting_is_an_error_and_the_others_are_stored(tmp_path: Path, server: Server) -> None:
    app = council()
    app.meetings[15].append(Meeting(5822, RECENT + timedelta(days=1), council_items()))
    app.meetings[15].append(Meeting(5823, RECENT + timedelta(days=2), council_items()))
    app.install(server)
    broken, slow = (f"Id=15&moedeid={n}&moedetitel=" for n in (5822, 5823))
    server.script(VIEW + "?" + query(15, "Byrådet", app.meetings[15][1]), Reply(status=500))
    server.script(VIEW + "?" + query(15, "Byrådet", app.meetings[15][2]), Reply(delay=1.0, body=b"<h3>1. Sent</h3>"))
    report = cycle(write_portal_config(tmp_path, source(server.url), folder_source(tmp_path)))
    assert len(report.errors) == 2 and all(e.startswith(f"{LABEL}: {server.url}{VIEW}?") for e in report.errors)
    assert broken in report.errors[0] and "HTTP 500" in report.errors[0]
    assert slow in report.errors[1] and "timed out" in report.errors[1]
    assert report.documents == 2 and report.new == 3 + 4


def test_a_changed_layout_is_named(tmp_path: Path, server: Server) -> None:
    council().install(server)
    server.handlers[VIEW] = lambda q: Reply(body="<html><body><h2>1. Nyt layout</h2></body></html>".encode())
    server.html(f"{LIST}?Id=31", "<html><body><ul><li><a href='/x'>Møde</a></li></ul></body></html>")
    result = run_cli(write_portal_config(tmp_path, source(server.url, ids="[15, 31]")), "ingest")
    assert result.exit_code == 1
    assert f"error: {LABEL}: {server.url}{VIEW}?" in result.stderr
    assert (
        "(Byrådet " in result.stderr
        and "no agenda items found on the page – has the site's layout changed?" in result.stderr
    )
    assert f"warning: {LABEL}: committee id 31 lists no meetings" in result.stderr


# --- probe --------------------------------------------------------------------------------------


def test_the_probe_recognises_the_app_and_refuses_another_site(server: Server) -> None:
    council().install(server)
    with Fetcher(FAST) as fetcher:
        found = AalborgApp.probe(fetcher, server.url)
    assert found.ok and found.message == (
        f"{server.url} answers like Aalborg's minutes app: committee id 15 (Byrådet) lists 1 meeting"
    )
    with running(Server()) as other, Fetcher(FAST) as fetcher:
        refused = AalborgApp.probe(fetcher, other.url)
    assert not refused.ok and "does not answer like Aalborg's minutes app" in refused.message
    assert "HTTP 404" in refused.message
