"""The Åben Dagsorden source against a real local HTTP server imitating Glostrup (ISO dates) and
Syddjurs (``DD/MM/YYYY``, refusing ISO) (``tests/sites/aabendagsorden.py``): the meeting search in
windows, each meeting's view with its items, sections, decisions and attachments."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs

import pytest

from bot.config import load_config
from bot.fetch import Fetcher, FetchSettings
from bot.http_cache import StoreCache
from bot.run.pipeline import open_store, run_cycle
from bot.source_config import AabenDagsordenSource
from bot.sources.aabendagsorden import AabenDagsorden, meeting_start, windows
from bot.sources.aabendagsorden_view import parse_view
from bot.sources.base import SourceContext
from bot.sources.site import ZONE, SiteMeeting

from .helpers import json_lines, run_cli
from .portal import Reply, Server, running, write_portal_config
from .sites import folder_source, ingest
from .sites.aabendagsorden import (
    GLOSTRUP_ECONOMY,
    GLOSTRUP_TECHNICAL,
    SEARCH,
    Item,
    Meeting,
    decided,
    glostrup,
    serve,
    syddjurs,
    view_html,
    view_path,
)

NOW = datetime(2026, 12, 6, 12, tzinfo=ZONE)


def source(url: str, extra: str = "", name: str = "glostrup", kommune: str = "Glostrup") -> str:
    return (
        f'name = "{name}"\nkommune = "{kommune}"\ntype = "aabendagsorden"\nurl = "{url}"\n'
        f'min_interval = 0\nsince = "2026-11-01"\n{extra}'
    )


GLOSTRUP = 'skip_committees = ["Testudvalget"]'


def searches(server: Server) -> list[tuple[str, str]]:
    asked = [parse_qs(seen.query, keep_blank_values=True) for seen in server.requests if seen.path == SEARCH]
    return [(q["fromDate"][0], q["toDate"][0]) for q in asked]


def views(server: Server) -> list[str]:
    return [p for p in server.paths() if p.startswith("/fragments/")]


# --- parsing ---------------------------------------------------------------------------------------


def test_dates_in_both_forms_and_windows_on_a_grid_from_since() -> None:
    assert meeting_start("2026-11-18T16:30:00") == datetime(2026, 11, 18, 16, 30, tzinfo=ZONE)
    assert meeting_start("18/11/2026 16:30") == datetime(2026, 11, 18, 16, 30, tzinfo=ZONE)
    assert meeting_start("18/11/2026") == datetime(2026, 11, 18, tzinfo=ZONE)
    assert meeting_start("2026-11-18") == datetime(2026, 11, 18, tzinfo=ZONE)
    assert [meeting_start(text) for text in ("", "i morgen", "31/02/2026", None)] == [None] * 4
    assert list(windows(date(2026, 11, 1), date(2026, 11, 25))) == [
        (date(2026, 11, 1), date(2026, 11, 10)),
        (date(2026, 11, 11), date(2026, 11, 20)),
        (date(2026, 11, 21), date(2026, 11, 30)),
    ]


def test_a_view_gives_items_with_numbers_cases_sections_anchors_and_attachments() -> None:
    meeting = SiteMeeting(
        "4711", "Økonomiudvalget", datetime(2026, 11, 18, 16, tzinfo=ZONE), "dagsorden", "B/meeting/4711"
    )
    parsed = parse_view(view_html(GLOSTRUP_ECONOMY).encode(), meeting, "B", "view")
    assert (parsed.kind, parsed.committee, parsed.date, parsed.place) == (
        "dagsorden",
        "Økonomiudvalget",
        date(2026, 11, 18),
        "Mødelokale 2, Rådhuset",
    )
    assert [(i.number, i.title, i.case_number) for i in parsed.items] == [
        (1, "Godkendelse af dagsorden", "00.01.00-A00-1-26"),
        (2, "Budgetopfølgning pr. 31. oktober 2026", "00.30.14-S00-3-26"),
        (3, "Klimatilpasning ved Store Vejleå", "06.02.00-P20-1-25"),
        (4, "Lukket punkt: Køb af ejendom", None),
    ]
    budget = parsed.items[1]
    assert [s.heading for s in budget.sections] == ["Resumé", "Sagsfremstilling", "Indstilling", "Bilag"]
    assert budget.url == "B/meeting/4711#agenda-item-47112" and budget.portal_id == "47112"
    assert [(a.name, a.url) for a in budget.attachments] == [
        ("Budgetoversigt oktober 2026", "B/meeting/files/9101/Budgetoversigt%20oktober%202026.pdf"),
        ("Notat om hjemmeplejen", "B/meeting/files/9102/Notat%20om%20hjemmeplejen.pdf"),
    ], "the meeting's own PDF button, before the first item, belongs to no item"
    assert parsed.items[3].closed and not parsed.items[3].sections

    minutes = parse_view(view_html(decided(GLOSTRUP_ECONOMY)).encode(), meeting, "B", "view")
    assert minutes.kind == "referat" and minutes.items[1].decision == "Godkendt."


def test_items_in_one_flat_list_without_wrappers_are_split_at_their_titles() -> None:
    html = (
        '<div><h2>Byrådet</h2><h3 class="agenda-item-title">Punkt 7: Kystsikring</h3><h4>Resumé</h4><p>Dige.</p>'
        '<h3 class="agenda-item-title" id="p8">Punkt 8 - Vejnavne</h3><h4>Beslutning</h4><p>Vedtaget.</p></div>'
    )
    meeting = SiteMeeting("9", "Byrådet", datetime(2026, 11, 18, tzinfo=ZONE), "dagsorden", "B/meeting/9")
    parsed = parse_view(html.encode(), meeting, "B", "view")
    assert [(i.number, i.title, i.url) for i in parsed.items] == [
        (7, "Kystsikring", "B/meeting/9"),
        (8, "Vejnavne", "B/meeting/9#p8"),
    ]
    assert parsed.items[0].section_map() == {"Resumé": "Dige."} and parsed.kind == "referat"


# --- end to end ------------------------------------------------------------------------------------


def test_glostrup_is_ingested_end_to_end_and_a_second_poll_changes_nothing(tmp_path: Path, server: Server) -> None:
    serve(server, glostrup())
    config = write_portal_config(tmp_path, source(server.url, GLOSTRUP))
    assert (
        ingest(config) == "2 documents read (0 unchanged): 6 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    )
    assert views(server) == [view_path(4711), view_path(4712)], "Testudvalget, blocked and older meetings are left out"
    assert searches(server)[:3] == [
        ("2026-11-01", "2026-11-10"),
        ("01/11/2026", "10/11/2026"),  # an empty window: is the other form refused?
        ("2026-11-11", "2026-11-20"),  # it is (400): ISO from now on
    ]
    assert all(start[4] == "-" for start, _ in searches(server)[2:]), "ISO only, once known"

    items = json_lines(config, "items")
    assert [(i["committee"], i["meeting_date"], i["number"], i["title"]) for i in items] == [
        ("Økonomiudvalget", "2026-11-18", 1, "Godkendelse af dagsorden"),
        ("Økonomiudvalget", "2026-11-18", 2, "Budgetopfølgning pr. 31. oktober 2026"),
        ("Økonomiudvalget", "2026-11-18", 3, "Klimatilpasning ved Store Vejleå"),
        ("Økonomiudvalget", "2026-11-18", 4, "Lukket punkt: Køb af ejendom"),
        ("Teknik- og Miljøudvalget", "2026-11-25", 1, "Trafikplan for Hovedvejen"),
        ("Teknik- og Miljøudvalget", "2026-11-25", 2, "Vintertjeneste 2026/27"),
    ]
    climate = items[2]
    assert {i["doc_kind"] for i in items} == {"dagsorden"} and climate["kommune"] == "Glostrup"
    assert (climate["meeting_start"], climate["place"], climate["case_number"]) == (
        "16:00",
        "Mødelokale 2, Rådhuset",
        "06.02.00-P20-1-25",
    )
    assert climate["sections"] == {
        "Resumé": "Forslag om regnvandsbassin og skybrudsvej ved Store Vejleå.",
        "Økonomi": "Anlægsudgiften er 12 mio. kr. over to år.",
        "Indstilling": "At projektet sendes i høring.",
    }
    assert climate["url"] == f"{server.url}/meeting/4711#agenda-item-47113"
    assert items[1]["attachments"][0] == {
        "name": "Budgetoversigt oktober 2026",
        "url": f"{server.url}/meeting/files/9101/Budgetoversigt%20oktober%202026.pdf",
    }
    sha = climate["document"]["raw_sha256"]
    archived = (tmp_path / "state" / "archive" / sha[:2] / sha).read_bytes()
    assert f"--- {server.url}{view_path(4711)} ---".encode() in archived and b'"meetingId": 4711' in archived

    events = len(json_lines(config, "events"))
    assert (
        ingest(config) == "2 documents read (2 unchanged): 0 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    )
    assert len(json_lines(config, "events")) == events
    seen = [s for s in server.requests if s.path == view_path(4711)]
    assert len(seen) == 2 and "if-none-match" in seen[1].headers, "no signature: a conditional GET at every poll"


@pytest.mark.parametrize("refuse", ["400", "empty"])
def test_syddjurs_refuses_iso_dates_and_auto_switches_to_its_own(
    tmp_path: Path, server: Server, refuse: Literal["400", "empty"]
) -> None:
    serve(server, syddjurs(), fmt="dmy", refuse=refuse)
    config = write_portal_config(tmp_path, source(server.url, name="syddjurs", kommune="Syddjurs"))
    assert ingest(config).startswith("2 documents read (0 unchanged): 4 new,")
    asked = [start for start, _ in searches(server)]
    # A refusal (400) decides at once. An empty answer to both forms decides nothing, so each
    # window is asked in both forms until one has meetings: the first is on 24.11., in the third.
    twice = ("01",) if refuse == "400" else ("01", "11", "21")
    assert asked[: 2 * len(twice)] == [day for d in twice for day in (f"2026-11-{d}", f"{d}/11/2026")]
    assert all("/" in start for start in asked[2 * len(twice) :]), "once known, only the site's own form is used"
    items = json_lines(config, "items")
    assert [(i["committee"], i["meeting_date"], i["meeting_start"]) for i in items][::3] == [
        ("Økonomiudvalget", "2026-11-24", "14:00"),
        ("Børne- og Undervisningsudvalget", "2026-12-02", "15:00"),
    ]


def test_a_configured_date_format_is_used_from_the_first_request(tmp_path: Path, server: Server) -> None:
    serve(server, syddjurs(), fmt="dmy")
    extra = 'date_format = "DD/MM/YYYY"'
    config = write_portal_config(tmp_path, source(server.url, extra, name="syddjurs", kommune="Syddjurs"))
    assert ingest(config).startswith("2 documents read (0 unchanged): 4 new,")
    assert all("/" in start and "/" in end for start, end in searches(server))

    (tmp_path / "g").mkdir()
    glostrup_config = write_portal_config(tmp_path / "g", source(server.url, 'date_format = "YYYY-MM-DD"'))
    result = run_cli(glostrup_config, "ingest")
    assert result.exit_code == 1
    assert f"error: source 'glostrup' (Glostrup): {server.url}{SEARCH}?query=&fromDate=2026-11-01" in result.stderr
    assert "HTTP 400" in result.stderr


def test_the_minutes_add_decisions_to_the_agenda_items(tmp_path: Path, server: Server) -> None:
    serve(server, glostrup())
    config = write_portal_config(tmp_path, source(server.url, GLOSTRUP))
    ingest(config)
    serve(server, [decided(GLOSTRUP_ECONOMY, "Godkendt. Fraværende: Lise Holm."), GLOSTRUP_TECHNICAL])

    assert (
        ingest(config) == "2 documents read (1 unchanged): 0 new, 3 changed, 0 removed items; 0 new matches; 0 errors"
    )
    changed = [e for e in json_lines(config, "events") if e["kind"] == "changed"]
    assert [(e["committee"], e["number"], e["decision_added"], e["changed_sections"]) for e in changed] == [
        ("Økonomiudvalget", 1, True, ["Beslutning"]),
        ("Økonomiudvalget", 2, True, ["Beslutning"]),
        ("Økonomiudvalget", 3, True, ["Beslutning"]),
    ]
    budget = json_lines(config, "items")[1]
    assert (budget["version"], budget["doc_kind"], budget["decision"]) == (
        2,
        "referat",
        "Godkendt. Fraværende: Lise Holm.",
    )


def test_a_full_search_answer_is_halved_until_every_meeting_is_listed(server: Server) -> None:
    busy = [
        Meeting(6000 + n, date(2026, 11, 11) + timedelta(days=n % 10), f"Udvalg {n}", items=(Item(1, "Punkt", "1"),))
        for n in range(70)
    ]
    serve(server, busy)
    config = AabenDagsordenSource.model_validate(
        {"name": "g", "kommune": "Glostrup", "type": "aabendagsorden", "url": server.url, "since": "2026-11-11"}
    )
    with Fetcher(FetchSettings(min_interval=0)) as fetcher:
        listed = list(AabenDagsorden(config, SourceContext(now=NOW)).list_meetings(fetcher))
    assert len({m.key for m in listed}) == 70
    assert ("2026-11-11", "2026-11-20") in searches(server) and ("2026-11-11", "2026-11-15") in searches(server)


# --- failures ----------------------------------------------------------------------------------------


def test_a_server_error_is_named_and_the_other_source_still_ingests(tmp_path: Path, server: Server) -> None:
    server.routes[SEARCH] = Reply(status=500, body=b"Internal Server Error", headers={"Retry-After": "0"})
    config = write_portal_config(tmp_path, source(server.url, GLOSTRUP), folder_source(tmp_path))
    result = run_cli(config, "ingest")
    assert result.exit_code == 1
    assert f"error: source 'glostrup' (Glostrup): {server.url}{SEARCH}?query=&fromDate=2026-11-01" in result.stderr
    assert "HTTP 500 Internal Server Error (4 attempts)" in result.stderr
    assert {i["source"] for i in json_lines(config, "items")} == {"local"}


def test_a_timeout_is_named_and_another_site_still_ingests(tmp_path: Path) -> None:
    with running(Server()) as slow, running(Server()) as good:
        serve(good, syddjurs(), fmt="dmy")
        serve(slow, glostrup())
        slow.routes[view_path(4711)] = Reply(body=b"<div></div>", delay=1.0)
        path = write_portal_config(
            tmp_path, source(slow.url, GLOSTRUP), source(good.url, name="syddjurs", kommune="Syddjurs")
        )
        config = load_config(path)
        with open_store(config) as store:
            settings = FetchSettings(timeout=0.2, connect_timeout=1, attempts=1, min_interval=0)
            with Fetcher(settings, cache=StoreCache(store, tmp_path / "cache"), sleep=lambda _: None) as fetcher:
                report = run_cycle(config, store, fetcher=fetcher, now=NOW)
    assert report.new == 2 + 4, "Glostrup's other meeting and both of Syddjurs'"
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f"source 'glostrup' (Glostrup): {slow.url}{view_path(4711)}: timed out")


def test_a_changed_layout_is_a_warning_or_an_error_naming_the_source(tmp_path: Path) -> None:
    with running(Server()) as plain, running(Server()) as other, running(Server()) as good:
        serve(plain, [GLOSTRUP_ECONOMY])
        plain.html(view_path(4711), view_html(GLOSTRUP_ECONOMY).replace("agenda-item-title", "item-heading"))
        other.json(SEARCH, {"results": [], "total": 0})
        serve(good, [GLOSTRUP_TECHNICAL])
        config = write_portal_config(
            tmp_path,
            source(plain.url, name="plain"),
            source(other.url, 'date_format = "YYYY-MM-DD"', name="other", kommune="Syddjurs"),
            source(good.url),
        )
        result = run_cli(config, "ingest")
    assert result.exit_code == 1
    assert (
        f"error: source 'plain' (Glostrup): {plain.url}/meeting/4711 (Økonomiudvalget 18.11.2026): "
        "no agenda items found on the page – has the site's layout changed?"
    ) in result.stderr
    assert f"error: source 'other' (Syddjurs): {other.url}{SEARCH}?" in result.stderr
    assert "not an Åben Dagsorden meeting search (no 'meetings' list)" in result.stderr
    assert {i["source"] for i in json_lines(config, "items")} == {"glostrup"}


def test_an_empty_site_is_a_warning_naming_the_source(tmp_path: Path, server: Server) -> None:
    serve(server, [])
    result = run_cli(write_portal_config(tmp_path, source(server.url)), "ingest")
    assert result.exit_code == 0
    assert "warning: source 'glostrup' (Glostrup): 0 meetings" in result.stderr


def test_since_and_committees_choose_the_meetings_fetched(tmp_path: Path, server: Server) -> None:
    serve(server, glostrup())
    config = write_portal_config(tmp_path, source(server.url, 'committees = ["TEKNIK"]'))
    ingest(config)
    assert views(server) == [view_path(4712)], "a case-insensitive part of the name"
    (tmp_path / "state").rename(tmp_path / "state-1")
    server.requests.clear()
    config = write_portal_config(tmp_path, source(server.url, GLOSTRUP).replace("2026-11-01", "2026-10-01"))
    ingest(config)
    assert views(server) == [view_path(4700), view_path(4711), view_path(4712)]
    assert searches(server)[0] == ("2026-10-01", "2026-10-10"), "the search starts at since"


def test_the_probe_recognises_both_date_forms_and_refuses_others() -> None:
    today = datetime.now(ZONE).date()
    near = [Meeting(1, today, "Økonomiudvalget", items=(Item(1, "Punkt", "1"),))]
    with running(Server()) as iso, running(Server()) as dmy, running(Server()) as nothing, running(Server()) as other:
        serve(iso, near)
        serve(dmy, [*near, Meeting(2, today, "Byrådet")], fmt="dmy")
        other.html(SEARCH, "<html><body>Søg</body></html>")
        with Fetcher(FetchSettings(attempts=1, min_interval=0)) as fetcher:
            found_iso = AabenDagsorden.probe(fetcher, iso.url + "/")
            found_dmy = AabenDagsorden.probe(fetcher, dmy.url)
            missing = AabenDagsorden.probe(fetcher, nothing.url)
            unlike = AabenDagsorden.probe(fetcher, other.url)
    assert found_iso.ok and found_iso.message.startswith(f"{iso.url} answers like an Åben Dagsorden site: 1 meeting of")
    assert found_iso.message.endswith("dates as YYYY-MM-DD")
    assert found_dmy.ok and "2 meetings of 2 committees" in found_dmy.message
    assert found_dmy.message.endswith("dates as DD/MM/YYYY")
    assert not missing.ok and f"{nothing.url}{SEARCH}?" in missing.message and "HTTP 404" in missing.message
    assert not unlike.ok and "no meeting search" in unlike.message
