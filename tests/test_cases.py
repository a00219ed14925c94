"""A case's whole story (issue 16, point 3): every item with one case number in a kommune, across
committees and meetings, with the decisions FirstAgenda agendas quote, as `case` prints it, as
item pages and mails show it, and as a case watchlist's alert tells it."""

from __future__ import annotations

import json
import shutil
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from lxml import html

from .conftest import CORPUS, FIRSTAGENDA
from .helpers import Doc, add_watchlists, ingest, json_lines, put, run_cli, write_config
from .portal import LISTING, Server, agenda_path, portal_source, write_portal_config

pytestmark = pytest.mark.usefixtures("database")

CASE = "26/1234"
TMU = "Teknik- og Miljøudvalget"
OKU = "Økonomiudvalget"
KB = "Kommunalbestyrelsen"
EMAIL = '\n[email]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\nfrom = "vagt@example.org"\n'
MEETING = "0cad2b4d-c4a2-4583-a053-60704b2da0e5"  # Økonomiudvalget 18.05.2026, the meeting in agenda.json
needs_firstagenda = pytest.mark.skipif(not FIRSTAGENDA.is_dir(), reason="../shared/firstagenda is not here")
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not here")


def lokalplan(kind: str, committee: str, day: str, decision: str | None = None, number: int = 5) -> Doc:
    """A meeting of ``committee`` where the case is item ``number``, beside an unrelated item."""
    sections = {"Sagsfremstilling": "Forslag til lokalplan 511 for boliger ved Skovvej."}
    if decision is not None:
        sections[f"Beslutning i {committee} den {day}"] = decision
    doc = Doc(kind=kind, committee=committee, day=day)
    doc.item(1, "Godkendelse af dagsorden", f"26/{day[:5]}", Indstilling="At dagsordenen godkendes.")
    doc.items.append((number, "Lokalplan 511, Skovvej", CASE, sections))
    return doc


def through_two_committees(tmp_path: Path) -> Path:
    """The case recommended by Teknik- og Miljøudvalget and Økonomiudvalget, one ingest."""
    config = write_config(tmp_path)
    put(tmp_path, "tmu.md", lokalplan("REFERAT", TMU, "05-05-2026", "Anbefales over for Økonomiudvalget og KB."))
    put(tmp_path, "oku.md", lokalplan("REFERAT", OKU, "12-05-2026", "Anbefales.", number=7))
    return config


def case_lines(config: Path, kommune: str, case: str) -> list[dict[str, Any]]:
    result = run_cli(config, "case", kommune, case, "--json")
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def pages(config: Path) -> dict[str, html.HtmlElement]:
    """Every item page, by its file name."""
    folder = config.parent / "state" / "feeds" / "items"
    return {page.name: html.fromstring(page.read_bytes()) for page in folder.glob("*.html")}


def page_of(config: Path, committee: str, number: int) -> tuple[str, html.HtmlElement]:
    for name, page in pages(config).items():
        meta = " ".join(page.find_class("meta")[0].text_content().split())
        if f" · {committee} · " in meta and page.findtext(".//h1").startswith(f"Punkt {number}:"):
            return name, page
    raise AssertionError(f"no page of {committee} punkt {number}")


def case_section(page: html.HtmlElement) -> list[html.HtmlElement]:
    (section,) = page.xpath("//section[@id='sagen']")
    assert section.findtext("h2") == "Sagens forløb"
    return list(section.iter("li"))


def text(element: html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


# --- the timeline ---------------------------------------------------------------------------------


def test_a_case_through_three_committees_is_one_timeline_oldest_first(tmp_path: Path) -> None:
    config = through_two_committees(tmp_path)
    ingest(config)
    put(tmp_path, "kb.md", lokalplan("DAGSORDEN", KB, "26-05-2026", number=12))
    ingest(config)

    steps = case_lines(config, "testrup", CASE)  # the kommune's name in any case
    assert [(s["committee"], s["meeting_date"], s["kind"], s["number"]) for s in steps] == [
        (TMU, "2026-05-05", "referat", 5),
        (OKU, "2026-05-12", "referat", 7),
        (KB, "2026-05-26", "dagsorden", 12),
    ]
    assert [s["outcome"] for s in steps] == ["anbefalet", "anbefalet", None]
    assert steps[0]["decision"] == "Anbefales over for Økonomiudvalget og KB."
    assert {s["kommune"] for s in steps} == {"Testrup"} and {s["case_number"] for s in steps} == {CASE}
    assert all(s["page"].startswith("http") and s["page"].endswith(".html") for s in steps)
    assert all(s["quoted_in"] is None and s["title"] == "Lokalplan 511, Skovvej" for s in steps)

    shown = run_cli(config, "case", "Testrup", f"  {CASE} ")  # spacing as a watchlist's cases allow
    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    assert lines[0] == f"05.05.2026  {TMU}  [anbefalet]"
    assert lines[1] == "    referat, punkt 5: Lokalplan 511, Skovvej"
    assert lines[2] == "    Anbefales over for Økonomiudvalget og KB."
    assert f"26.05.2026  {KB}  [på dagsordenen]" in lines
    assert lines[-1] == f"Sag {CASE} i Testrup: 3 steps in 3 committees"


def test_an_unknown_kommune_or_case_names_what_exists(tmp_path: Path) -> None:
    config = through_two_committees(tmp_path)
    ingest(config)
    unknown = run_cli(config, "case", "Egeskov", CASE)
    assert unknown.exit_code == 2
    assert "no kommune 'Egeskov' in the store (kommuner: Testrup)" in unknown.stderr
    missing = run_cli(config, "case", "Testrup", "26/99")
    assert missing.exit_code == 2
    assert "no case 26/99 in Testrup; cases look like 26/" in missing.stderr
    close = run_cli(config, "case", "Testrup", "1234")
    assert close.exit_code == 2 and f"(similar: {CASE})" in close.stderr
    assert "referatvagt case" in run_cli(config, "case", "--help").stdout


def test_a_quoted_decision_and_the_stored_item_of_that_meeting_are_one_step(tmp_path: Path) -> None:
    """Økonomiudvalget's agenda is stored without a decision; Kommunalbestyrelsen's agenda quotes
    Økonomiudvalget's decision and Teknik- og Miljøudvalget's: the stored items keep their steps
    (links, pages) and the missing decision is taken from the quote; nothing is listed twice."""
    config = write_config(tmp_path)
    put(tmp_path, "tmu.md", lokalplan("REFERAT", TMU, "05-05-2026", "Anbefales."))
    put(tmp_path, "oku.md", lokalplan("DAGSORDEN", OKU, "12-05-2026", number=7))
    kb = lokalplan("DAGSORDEN", KB, "26-05-2026", number=12)
    sections = kb.items[-1][3]
    sections[f"Beslutning i {TMU} den 05-05-2026"] = "Anbefales."
    sections[f"Beslutning i {OKU} den 12-05-2026"] = "Anbefales, idet udvalget ønsker en ny høring."
    sections["Beslutning i Klimaudvalget den 28-04-2026"] = "Sagen blev udsat."  # no stored item of it
    put(tmp_path, "kb.md", kb)
    ingest(config)

    steps = case_lines(config, "Testrup", CASE)
    assert [(s["committee"], s["meeting_date"], s["kind"]) for s in steps] == [
        ("Klimaudvalget", "2026-04-28", "beslutning"),
        (TMU, "2026-05-05", "referat"),
        (OKU, "2026-05-12", "dagsorden"),
        (KB, "2026-05-26", "dagsorden"),
    ]
    quoted, _, oku, kb_step = steps
    assert quoted["outcome"] == "udsat" and quoted["page"] is None and quoted["number"] is None
    assert quoted["quoted_in"]["committee"] == KB and quoted["quoted_in"]["page"] == kb_step["page"]
    assert oku["decision"] == "Anbefales, idet udvalget ønsker en ny høring." and oku["page"] is not None


# --- the real FirstAgenda agenda --------------------------------------------------------------------


def hvidovre(tmp_path: Path, server: Server) -> Path:
    server.raw(LISTING, (FIRSTAGENDA / "udvalgsliste.json").read_bytes())
    server.raw(agenda_path(MEETING), (FIRSTAGENDA / "agenda.json").read_bytes())
    source = portal_source("hvidovre", server.url, 'committees = ["Økonomiudvalget"]').replace(
        "2020-01-01", "2026-05-01"
    )
    config = write_portal_config(tmp_path, source)
    ingest(config)
    return config


@needs_firstagenda
def test_the_five_decisions_a_firstagenda_agenda_quotes_are_the_case_so_far(tmp_path: Path, server: Server) -> None:
    config = hvidovre(tmp_path, server)
    steps = case_lines(config, "Hvidovre", "26/1033")
    assert [(s["committee"], s["meeting_date"], s["kind"]) for s in steps] == [
        ("Kultur- og Fritidsudvalget", "2026-04-07", "beslutning"),
        ("Klima-, Miljø- og Teknikudvalget", "2026-04-07", "beslutning"),  # one day: in the agenda's order
        ("By- og Planudvalget", "2026-04-07", "beslutning"),
        (OKU, "2026-04-13", "beslutning"),
        ("Kultur- og Fritidsudvalget", "2026-05-04", "beslutning"),
        (OKU, "2026-05-18", "dagsorden"),
    ]
    assert all(s["outcome"] is not None for s in steps[:5]) and steps[-1]["outcome"] is None
    assert steps[0]["outcome"] == "anbefalet"  # "Ad 1. Anbefales taget til efterretning. …"
    own = steps[-1]
    assert own["url"].endswith(f"vis?id={MEETING}&punktid=16580026-85c4-431f-a744-2903b68c5685")
    assert {s["quoted_in"]["page"] for s in steps[:5]} == {own["page"]}

    # The captured agenda quotes Økonomiudvalget's decisions of 9 March out of order: sorted here
    flag = case_lines(config, "Hvidovre", "25/25902")
    assert [s["meeting_date"] for s in flag] == ["2026-03-09", "2026-04-20", "2026-04-28", "2026-05-18"]

    _, page = page_of(config, OKU, 4)
    listed = case_section(page)
    assert len(listed) == 6 and "(dette punkt)" in text(listed[-1]) and listed[-1].get("class") == "own"
    assert [a.get("href") for li in listed[:5] for a in li.iter("a")] == ["#tidligere"] * 5
    assert text(listed[0]).startswith("07.04.2026 Kultur- og Fritidsudvalget: Beslutning citeret i Økonomiudvalget")
    assert [text(flag) for flag in listed[0].find_class("flag")] == ["anbefalet"]


@needs_firstagenda
def test_the_minutes_of_the_meeting_replace_nothing_and_add_its_decision(tmp_path: Path, server: Server) -> None:
    config = hvidovre(tmp_path, server)
    minutes: dict[str, Any] = json.loads((FIRSTAGENDA / "agenda.json").read_bytes())
    item = next(i for i in minutes["Dagsordenpunkter"] if i.get("SagsNummer") == "26/1033")
    item["Felter"][0]["Html"] += "<h3>Beslutning i Økonomiudvalget den 18-05-2026</h3><span>Anbefales godkendt.</span>"
    server.json(agenda_path(MEETING), minutes)
    listing: dict[str, Any] = json.loads((FIRSTAGENDA / "udvalgsliste.json").read_bytes())
    for committee in listing["Udvalg"]["Udvalg 2026-2029"]:
        for entry in committee["Moeder"]:
            if entry["Id"] == MEETING:
                entry.update(Navn="Referat", ReleasedDate="2026-05-20T09:00:00+02:00")
    server.json(LISTING, listing)
    ingest(config)
    steps = case_lines(config, "Hvidovre", "26/1033")
    assert len(steps) == 6, "the item's own decision is its step, not a quote beside it"
    assert (steps[-1]["kind"], steps[-1]["outcome"]) == ("referat", "anbefalet")


# --- the corpus -------------------------------------------------------------------------------------


@needs_corpus
def test_a_case_number_that_recurs_in_real_minutes_lists_each_item(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    for path in CORPUS.glob("*"):
        shutil.copyfile(path, tmp_path / "minutes" / path.name)
    ingest(config)
    meetings = case_lines(config, "Testrup", "24/24124")  # Hvidovre's meeting business: items 1, 2 and 9
    assert [(s["number"], s["title"]) for s in meetings] == [
        (1, "Godkendelse af dagsorden"),
        (2, "Meddelelser"),
        (9, "Eventuelt"),
    ]
    assert meetings[0]["outcome"] == "godkendt" and meetings[0]["decision"] == "Godkendt."
    _, page = page_of(config, "Social- og Arbejdsmarkedsudvalget", 2)
    listed = case_section(page)
    hrefs = [a.get("href") for li in listed for a in li.iter("a")]
    assert len(listed) == 3 and len(hrefs) == 2 and all(href in pages(config) for href in hrefs)


# --- item pages, mails and alerts -----------------------------------------------------------------


def test_an_earlier_page_is_rendered_again_when_the_case_reaches_the_next_body(tmp_path: Path) -> None:
    config = through_two_committees(tmp_path)
    ingest(config)
    name, page = page_of(config, TMU, 5)
    assert [text(li).split(":")[0] for li in case_section(page)] == [f"05.05.2026 {TMU}", f"12.05.2026 {OKU}"]
    put(tmp_path, "kb.md", lokalplan("DAGSORDEN", KB, "26-05-2026", number=12))
    ingest(config)

    _, page = page_of(config, TMU, 5)
    listed = case_section(page)
    assert [text(li) for li in listed][-1].startswith(f"26.05.2026 {KB}: Dagsorden, punkt 12: Lokalplan 511")
    assert [text(flag) for li in listed for flag in li.find_class("flag")] == ["anbefalet"] * 2 + ["på dagsordenen"]
    kb_name, _ = page_of(config, KB, 12)
    assert [a.get("href") for a in listed[-1].iter("a")] == [kb_name]
    assert listed[0].get("class") == "own" and not list(listed[0].iter("a"))
    _, unrelated = page_of(config, KB, 1)
    assert not unrelated.xpath("//section[@id='sagen']"), "a case of one item has no story to tell"
    assert name in pages(config)


def test_a_mail_says_what_happened_earlier_in_the_case(tmp_path: Path) -> None:
    config = through_two_committees(tmp_path)
    config.write_text(config.read_text(encoding="utf-8") + EMAIL, encoding="utf-8")
    add_watchlists(tmp_path, skovvej='terms = ["skovvej"]\n[deliver]\nemail = ["a@example.org"]\n')
    ingest(config)  # the source's first ingest: feeds only
    put(tmp_path, "kb.md", lokalplan("DAGSORDEN", KB, "26-05-2026", number=12))
    ingest(config)
    out = tmp_path / "eml"
    assert run_cli(config, "digest", "--now", "--dry-run", str(out)).exit_code == 0
    (eml,) = out.glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    plain, rich = (message.get_body((kind,)).get_content() for kind in ("plain", "html"))  # type: ignore[union-attr]
    lines = [line.strip() for line in plain.splitlines()]
    start = lines.index("Tidligere i sagen:")
    assert lines[start + 1 : start + 3] == [f"{TMU} 05.05.2026: anbefalet", f"{OKU} 12.05.2026: anbefalet"]
    assert lines[start - 3].endswith("Punkt 12: Lokalplan 511, Skovvej")
    assert plain.count("Tidligere i sagen:") == 1
    assert f"<em>Tidligere i sagen:</em><br>{TMU} 05.05.2026: anbefalet<br>{OKU} 12.05.2026" in rich


def test_a_case_watchlist_is_told_the_case_reached_a_new_body_and_its_outcome_so_far(tmp_path: Path) -> None:
    config = through_two_committees(tmp_path)
    add_watchlists(tmp_path, lokalplan=f'cases = ["{CASE}"]\n')
    ingest(config)
    put(tmp_path, "kb.md", lokalplan("DAGSORDEN", KB, "26-05-2026", number=12))
    ingest(config)
    put(tmp_path, "kb-referat.md", lokalplan("REFERAT", KB, "26-05-2026", "Godkendt.", number=12))
    ingest(config)

    found = sorted(json_lines(config, "matches"), key=lambda m: (m["meeting_date"], m["version"]))
    assert [(m["committee"], m["by_case"]) for m in found] == [(TMU, True), (OKU, True), (KB, True), (KB, True)]
    assert found[0]["snippet"] == f"Sagen er behandlet i {TMU} 05.05.2026: anbefalet."
    assert found[2]["snippet"] == (
        "Sagen er nu på Kommunalbestyrelsens dagsorden 26.05.2026. "
        f"Hidtil: {TMU} 05.05.2026: anbefalet; {OKU} 12.05.2026: anbefalet."
    )
    assert found[3]["snippet"] == (
        f"Sagen er behandlet i {KB} 26.05.2026: godkendt. "
        f"Hidtil: {TMU} 05.05.2026: anbefalet; {OKU} 12.05.2026: anbefalet."
    )
    text_view = run_cli(config, "matches", "--watchlist", "lokalplan").stdout
    assert "Sagen er nu på Kommunalbestyrelsens dagsorden 26.05.2026. Hidtil:" in text_view
