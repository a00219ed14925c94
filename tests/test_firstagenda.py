"""The FirstAgenda source against a real local HTTP server imitating a portal: the captured
Hvidovre responses (``../shared/firstagenda``, skipped when absent) and small portals of our own."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import update

from bot.config import load_config
from bot.errors import ConfigError
from bot.run.pipeline import open_store
from bot.source_config import FirstAgendaSource
from bot.sources.firstagenda import ListedMeeting, parse_agenda, parse_listing, select_meetings
from bot.store.models import Document

from .conftest import FIRSTAGENDA
from .helpers import ingest, json_lines, run_cli
from .portal import (
    LISTING,
    Server,
    agenda,
    agenda_path,
    item,
    listing,
    meeting,
    portal_source,
    running,
    small_portal,
    write_portal_config,
)

MEETING = "0cad2b4d-c4a2-4583-a053-60704b2da0e5"  # Økonomiudvalget 18.05.2026, the meeting in agenda.json
needs_shared = pytest.mark.skipif(not FIRSTAGENDA.is_dir(), reason="../shared/firstagenda is not here")


def captured(name: str) -> bytes:
    return (FIRSTAGENDA / name).read_bytes()


def listed(meeting_id: str = MEETING) -> ListedMeeting:
    found = [m for m in parse_listing(captured("udvalgsliste.json"), "udvalgsliste").meetings if m.id == meeting_id]
    return found[0]


# --- the captured responses ---------------------------------------------------------------------


@needs_shared
def test_the_committee_list_gives_every_meeting_of_every_period_once() -> None:
    parsed = parse_listing(captured("udvalgsliste.json"), "udvalgsliste")
    raw = json.loads(captured("udvalgsliste.json"))["Udvalg"]
    assert parsed.periods == 2 and parsed.committees == sum(len(c) for c in raw.values()) == 7
    assert len(parsed.meetings) == len({m["Id"] for cs in raw.values() for c in cs for m in c["Moeder"]})
    economy = [m for m in parsed.meetings if m.committee == "Økonomiudvalget"]
    assert [(m.start.date(), m.kind) for m in economy] == [
        (date(2026, 4, 20), "referat"),
        (date(2026, 5, 18), "dagsorden"),
    ]
    historical = listed("99ae3a9a-80f5-4799-8ca9-ab5b4500ae7b")  # the 2022-2025 period's one meeting
    assert (historical.committee, historical.kind) == ("By- og Planudvalget", "tillægsdagsorden")
    assert listed().place == "Hvidovre" and listed().start.hour == 17


@needs_shared
def test_the_captured_agenda_becomes_a_meeting_with_its_items() -> None:
    parsed = parse_agenda(captured("agenda.json"), listed(), "https://portal.example", "agenda")
    assert (parsed.kind, parsed.committee, parsed.date) == ("dagsorden", "Økonomiudvalget", date(2026, 5, 18))
    assert parsed.start is not None and parsed.start.strftime("%H:%M") == "17:00"
    assert parsed.url == f"https://portal.example/vis?id={MEETING}"
    assert len(parsed.participants) == 7 and "Anders Liltorp" in parsed.participants
    assert [i.number for i in parsed.items] == [*range(1, 22), 32, 33, 34]
    four = parsed.items[3]
    assert four.case_number == "26/1033" and four.portal_id == "16580026-85c4-431f-a744-2903b68c5685"
    assert four.url == f"https://portal.example/vis?id={MEETING}&punktid={four.portal_id}"
    assert [s.heading for s in four.sections][:2] == ["Beslutningstema", "Indstilling"]
    assert len(four.decisions) == 5, "decisions of the committees that handled the case earlier"
    assert four.decision is None, "no decision of this meeting yet: it is the agenda"
    assert [a.name for a in four.attachments[:2]] == ["kortskitse over bike-bane i Strandparken I/S", "Lokalplan 511"]
    assert four.attachments[0].url == (
        "https://portal.example/vis/pdf/bilag/d0ec3dc2-a32f-4458-b738-f22d0ce23026?redirectDirectlyToPdf=true"
    ), "the link that serves the PDF itself, not the viewer"
    closed = parsed.items[-3:]
    assert all(i.closed and i.title.startswith("Lukket: ") and not i.sections for i in closed)


@needs_shared
def test_a_portal_is_ingested_end_to_end_and_a_second_run_changes_nothing(tmp_path: Path, server: Server) -> None:
    server.raw(LISTING, captured("udvalgsliste.json"))
    server.raw(agenda_path(MEETING), captured("agenda.json"))
    source = portal_source("hvidovre", server.url, 'committees = ["økonomi"]').replace("2020-01-01", "2026-05-01")
    config = write_portal_config(tmp_path, source)
    assert (
        ingest(config) == "1 document read (0 unchanged): 24 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    )
    items = json_lines(config, "items")
    assert {i["kommune"] for i in items} == {"Hvidovre"} and {i["doc_kind"] for i in items} == {"dagsorden"}
    assert items[3]["url"] == f"{server.url}/vis?id={MEETING}&punktid=16580026-85c4-431f-a744-2903b68c5685"
    sha = hashlib.sha256(captured("agenda.json")).hexdigest()
    assert {i["document"]["raw_sha256"] for i in items} == {sha}, "the exact bytes served are the document"
    assert (tmp_path / "state" / "archive" / sha[:2] / sha).read_bytes() == captured("agenda.json")

    assert (
        ingest(config) == "0 documents read (0 unchanged): 0 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    )
    assert server.count(agenda_path(MEETING)) == 1, "ReleasedDate unchanged: the agenda is not fetched again"
    listings = [seen for seen in server.requests if seen.path == LISTING]
    assert "if-none-match" not in listings[0].headers and "if-none-match" in listings[1].headers
    assert server.paths()[0] == "/", "a session is opened before the API is used"


@needs_shared
def test_the_minutes_of_a_meeting_add_decisions_to_its_agenda_items(tmp_path: Path, server: Server) -> None:
    server.raw(LISTING, captured("udvalgsliste.json"))
    server.raw(agenda_path(MEETING), captured("agenda.json"))
    source = portal_source("hvidovre", server.url, 'committees = ["Økonomiudvalget"]').replace(
        "2020-01-01", "2026-05-01"
    )
    config = write_portal_config(tmp_path, source)
    ingest(config)

    minutes: dict[str, Any] = json.loads(captured("agenda.json"))
    for index in (2, 3):  # items 3 and 4 are decided
        field = minutes["Dagsordenpunkter"][index]["Felter"][0]
        field["Html"] += "<h3>Beslutning i Økonomiudvalget den 18-05-2026</h3><span>Godkendt.</span>"
    server.json(agenda_path(MEETING), minutes)
    relisted: dict[str, Any] = json.loads(captured("udvalgsliste.json"))
    for committee in relisted["Udvalg"]["Udvalg 2026-2029"]:
        for entry in committee["Moeder"]:
            if entry["Id"] == MEETING:
                entry.update(Navn="Referat", Afsluttet=True, ReleasedDate="2026-05-20T09:00:00.1234567+02:00")
    server.json(LISTING, relisted)

    assert ingest(config) == "1 document read (0 unchanged): 0 new, 2 changed, 0 removed items; 0 new matches; 0 errors"
    changed = [e for e in json_lines(config, "events") if e["kind"] == "changed"]
    assert [(e["number"], e["decision_added"], e["changed_sections"]) for e in changed] == [
        (3, True, ["Beslutning i Økonomiudvalget den 18-05-2026"]),
        (4, True, ["Beslutning i Økonomiudvalget den 18-05-2026"]),
    ]
    four = json_lines(config, "items")[3]
    assert (four["version"], four["doc_kind"], four["decision"]) == (2, "referat", "Godkendt.")
    assert server.count(agenda_path(MEETING)) == 2


# --- small portals of our own ----------------------------------------------------------------------


def test_a_portal_that_wants_a_session_cookie_is_read(tmp_path: Path) -> None:
    with running(Server(session_cookie=True)) as srv:
        small_portal(srv)
        config = write_portal_config(tmp_path, portal_source("testrup", srv.url))
        assert ingest(config).startswith("1 document read (0 unchanged): 3 new,")
        assert srv.paths() == ["/", LISTING, agenda_path("m1")]
    items = json_lines(config, "items")
    assert [(i["number"], i["title"], i["closed"]) for i in items] == [
        (1, "Godkendelse af dagsorden", False),
        (2, "Busplan 2027", False),
        (3, "Lukket: Personalesag", True),
    ]
    assert items[0]["attachments"] == [
        {"name": "Bilag til punkt 1", "url": f"{srv.url}/vis/pdf/bilag/i1-b?redirectDirectlyToPdf=true"}
    ]
    assert items[0]["meeting_start"] == "17:00"


def test_an_expired_session_is_opened_again(tmp_path: Path) -> None:
    with running(Server()) as srv:
        small_portal(srv)
        from .portal import Reply

        # The first API answer is the app's front page (what a lost session looks like).
        srv.script(LISTING, Reply(body=b"<html>app</html>", headers={"Content-Type": "text/html"}))
        config = write_portal_config(tmp_path, portal_source("testrup", srv.url))
        assert ingest(config).startswith("1 document read (0 unchanged): 3 new,")
        assert srv.paths()[:4] == ["/", LISTING, "/", LISTING]


def test_only_meetings_that_are_new_or_re_released_are_fetched(tmp_path: Path, server: Server) -> None:
    small_portal(server)
    config = write_portal_config(tmp_path, portal_source("testrup", server.url))
    ingest(config)
    ingest(config)
    assert server.count(agenda_path("m1")) == 1
    small_portal(server, released="2026-05-19T08:00:00+02:00", decided=True)
    assert ingest(config).endswith("0 new, 2 changed, 0 removed items; 0 new matches; 0 errors")
    assert server.count(agenda_path("m1")) == 2
    events = json_lines(config, "events")
    assert [(e["kind"], e["decision_added"]) for e in events] == [("new", False)] * 3 + [("changed", True)] * 2


def test_a_meeting_fetched_but_never_stored_is_fetched_again(tmp_path: Path, server: Server) -> None:
    small_portal(server)
    config = write_portal_config(tmp_path, portal_source("testrup", server.url))
    ingest(config)
    with open_store(load_config(config)) as store, store.session() as session:  # as if the run died before storing
        session.exec(update(Document).values(raw_sha256="gone"))
    ingest(config)
    assert server.count(agenda_path("m1")) == 2


def test_committee_and_since_filters_and_the_default_window(tmp_path: Path, server: Server) -> None:
    today = datetime.now(timezone.utc).date()
    recent, old = (today - timedelta(days=10)).isoformat(), (today - timedelta(days=200)).isoformat()
    server.json(
        LISTING,
        listing(
            {
                "Økonomiudvalget": [meeting("e-new", recent), meeting("e-old", old)],
                "Børne- og Skoleudvalget": [meeting("b-new", recent)],
            }
        ),
    )
    for meeting_id in ("e-new", "e-old", "b-new"):
        server.json(agenda_path(meeting_id), agenda(meeting_id, "x", [item(f"{meeting_id}-1", 1, "Punkt", "26/1", "")]))
    plain = f'name = "t"\nkommune = "T"\ntype = "firstagenda"\nurl = "{server.url}"\nmin_interval = 0\n'
    config = write_portal_config(tmp_path, plain + 'committees = ["BØRNE"]\n')
    ingest(config)
    assert [p for p in server.paths() if "dagsorden/" in p] == [agenda_path("b-new")], (
        "a case-insensitive part of the name"
    )
    (tmp_path / "state").rename(tmp_path / "state-1")
    config = write_portal_config(tmp_path, plain)
    ingest(config)
    fetched = {p for p in server.paths() if "dagsorden/" in p}
    assert agenda_path("e-old") not in fetched, "a new source starts with the last 180 days"
    assert agenda_path("e-new") in fetched


def test_select_meetings_filters_by_committee_and_day() -> None:
    tz = timezone(timedelta(hours=2))
    meetings = [
        ListedMeeting("a", "Økonomiudvalget", datetime(2026, 5, 18, 17, tzinfo=tz), "", None, "Referat", False),
        ListedMeeting(
            "b", "Teknik- og Miljøudvalget", datetime(2026, 1, 5, 17, tzinfo=tz), "", None, "Dagsorden", False
        ),
        ListedMeeting("c", "Teknik- og Miljøudvalget", datetime(2026, 5, 5, 17, tzinfo=tz), "", None, "X", True),
    ]
    assert [m.id for m in select_meetings(meetings, (), date(2026, 5, 1))] == ["a", "c"]
    assert [m.id for m in select_meetings(meetings, ("miljø",), date(2026, 1, 1))] == ["b", "c"]
    assert [m.kind for m in meetings] == ["referat", "dagsorden", "tillægsdagsorden"]


def test_a_broken_agenda_is_reported_and_the_other_meetings_are_stored(tmp_path: Path, server: Server) -> None:
    items = [item("x1", 1, "Busplan", "26/1", "<h3>Indstilling</h3><p>Godkendes.</p>")]
    server.json(LISTING, listing({"Økonomiudvalget": [meeting("good", "2026-05-18"), meeting("bad", "2026-05-19")]}))
    server.json(agenda_path("good"), agenda("good", "Økonomiudvalget", items))
    server.raw(agenda_path("bad"), b'{"Dagsordenpunkter": [{"Id": 7')
    result = run_cli(write_portal_config(tmp_path, portal_source("t", server.url)), "ingest")
    assert result.exit_code == 1
    assert (
        f"error: source 't' (T): {server.url}/vis?id=bad (Økonomiudvalget 19.05.2026): not a FirstAgenda agenda"
        in result.stderr
    )
    assert result.stdout.startswith("1 document read (0 unchanged): 1 new,")


def test_an_item_marked_not_open_is_closed_whatever_its_title(tmp_path: Path, server: Server) -> None:
    secret = item("s1", 1, "Ejendomshandel", "26/9", "<h3>Sagsfremstilling</h3><p>Fortroligt.</p>", is_open=False)
    secret["Felter"][0]["Html"] = "<h3>Sagsfremstilling</h3><p>Fortroligt.</p>"
    server.json(LISTING, listing({"Økonomiudvalget": [meeting("m", "2026-05-18")]}))
    server.json(agenda_path("m"), agenda("m", "Økonomiudvalget", [secret]))
    config = write_portal_config(tmp_path, portal_source("t", server.url))
    ingest(config)
    [stored] = json_lines(config, "items")
    assert stored["closed"] is True and stored["sections"] == {} and stored["title"] == "Ejendomshandel"


# --- configuration ----------------------------------------------------------------------------------


def test_a_kommune_alone_is_resolved_through_the_catalogue(tmp_path: Path) -> None:
    config = load_config(write_portal_config(tmp_path, 'name = "h"\nkommune = "Hvidovre"\ntype = "firstagenda"'))
    source = config.sources[0]
    assert isinstance(source, FirstAgendaSource)
    assert source.url == "https://dagsordener-referater.hvidovre.dk" and source.every is None
    assert source.since is None and source.committees == () and source.min_interval == 1.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            'kommune = "Ishøj"',
            r"config\.toml:\d+: source\[1\]: .*no firstagenda site for Ishøj \(where it publishes is not known\)"
            r".*sources known Ishøj",
        ),
        ('kommune = "Billund"', r"no firstagenda site for Billund \(it publishes with meetingsplus\)"),
        ('kommune = "Atlantis"', r"'Atlantis' is not a kommune in the catalogue"),
        ('kommune = "A"\nurl = "dagsordener.a.dk"', r"source\[1\]\.url: 'dagsordener.a.dk' is not an http\(s\) URL"),
        ('kommune = "A"\nurl = "https://a"\nsince = "last year"', r"source\[1\]\.since: "),
        ('kommune = "A"\nurl = "https://a"\nevery = "soon"', r"source\[1\]\.every: 'soon' is not a duration"),
        ('kommune = "A"\nurl = "https://a"\ncommittee = ["x"]', r"source\[1\]\.committee: unknown key"),
    ],
)
def test_firstagenda_config_mistakes_are_named(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(write_portal_config(tmp_path, f'name = "a"\ntype = "firstagenda"\n{body}'))


def test_bot_every_and_alert_after_failures(tmp_path: Path) -> None:
    config = load_config(write_portal_config(tmp_path, bot='every = "1h30m"\nalert_after_failures = 5'))
    assert (config.bot.every, config.bot.alert_after_failures) == ("1h30m", 5)
    with pytest.raises(ConfigError, match=r"bot\.alert_after_failures: "):
        load_config(write_portal_config(tmp_path, bot="alert_after_failures = 0"))
