"""Item pages: one static page per item a feed, digest or notification links, written with the
feeds (and any other item's made by `serve` when asked for), rendered again only when the item (or
a feed that links it) changed, and escaped like everything from the minutes."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import feedparser
import lxml.html
import pytest
from sqlmodel import select

from benchmarks.__main__ import YEARS
from benchmarks.ingest import prepare
from benchmarks.item_pages import measure
from bot.config import Config, load_config
from bot.match.watchlists import load_watchlists
from bot.publish import pages
from bot.publish.feeds import publish
from bot.publish.page_data import PageData
from bot.publish.page_text import section_html
from bot.run.pipeline import open_store
from bot.store.models import Item

from .helpers import Doc, add_watchlists, decided, ingest, json_lines, put, standard_agenda, write_config
from .pdfmaker import make_pdf
from .portal import Server, portal_source, write_portal_config
from .test_attachments import bilag, pdf, portal, run, serve_pdf
from .webtools import free_port

BASE = "http://127.0.0.1:8080/"


def setup(tmp_path: Path, **watchlists: str) -> Path:
    config = write_config(tmp_path)
    add_watchlists(tmp_path, **watchlists)
    return config


def items_dir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "feeds" / "items"


def page_of(tmp_path: Path, title: str) -> lxml.html.HtmlElement:
    """The page whose heading names the item ``title``."""
    for path in sorted(items_dir(tmp_path).glob("*.html")):
        page = lxml.html.fromstring(path.read_bytes())
        if title in page.findtext(".//h1", default=""):
            return page
    raise AssertionError(f"no page for {title!r}")


def text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def headings(page: lxml.html.HtmlElement, level: str = "h2") -> list[str]:
    return [text(h) for h in page.iter(level)]


def test_every_item_has_a_page_with_its_meeting_sections_decision_and_history(tmp_path: Path) -> None:
    config = setup(tmp_path)
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    put(tmp_path, "referat.md", decided(standard_agenda()).text().replace("2,4 mio. kr.", "2,6 mio. kr."))
    ingest(config)

    assert len(list(items_dir(tmp_path).glob("*.html"))) == len(json_lines(config, "items")) == 4
    page = page_of(tmp_path, "Budgetopfølgning 3. kvartal")
    assert text(page.find(".//h1")) == "Punkt 2: Budgetopfølgning 3. kvartal"
    meta = " ".join(text(p) for p in page.find_class("meta"))
    assert "Testrup · Økonomiudvalget · 02.11.2026 · Referat" in meta and "Sag 26/200" in meta
    assert page.find(".//meta[@name='viewport']") is not None, "readable on a phone"
    [decision] = page.find_class("decision")
    assert decision.findtext("h2") == "Beslutning" and "Godkendt." in text(decision)
    assert headings(page) == ["Beslutning", "Indstilling", "Økonomiske konsekvenser", "Historik", "Feeds med punktet"]
    history = page.get_element_by_id("historik")
    assert [text(h) for h in history.iter("h3")] == ["Beslutning tilføjet", "Nyt punkt"], "newest first"
    assert [text(d) for d in history.iter("del")] == ["2,4"] and "2,6" in [text(i) for i in history.iter("ins")]
    assert page.find(".//nav/a").get("href") == "../index.html"


def test_feed_entries_link_the_item_page_and_a_page_links_only_public_feeds(tmp_path: Path) -> None:
    config = setup(
        tmp_path,
        bus='title = "Busser"\nterms = ["busplan"]\n',
        hemmelig='title = "Hemmelig"\nterms = ["busplan"]\npublic = false\n',
    )
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)

    feeds = tmp_path / "state" / "feeds"
    [entry] = feedparser.parse((feeds / "bus.xml").read_bytes()).entries
    assert entry.link.startswith(f"{BASE}items/") and entry.link.endswith(".html")
    assert (feeds / entry.link.removeprefix(BASE)).is_file()
    assert f'href="{entry.link}"' in entry.content[0].value, "the entry's text links the page too"
    source = feedparser.parse((feeds / "source-test.xml").read_bytes())
    assert all((feeds / e.link.removeprefix(BASE)).is_file() for e in source.entries)

    page = page_of(tmp_path, "Busplan 2027")
    links = [(text(a), a.get("href")) for a in page.get_element_by_id("feeds").iter("a")]
    assert ("Busser", "../index.html#bus") in links and ("RSS", "../bus.xml") in links
    assert ("alt fra Testrup", "../index.html#source-test") in links
    html = (items_dir(tmp_path) / entry.link.rsplit("/", 1)[1]).read_text(encoding="utf-8")
    assert "private" not in html and "Hemmelig" not in html, "a private feed's secret address is never shown"
    assert not (feeds / "documents").exists(), "a text document is no longer copied as a page of its own"


def test_minutes_text_is_escaped_and_its_markup_rendered(tmp_path: Path) -> None:
    config = setup(tmp_path)
    hostile = Doc().item(
        1,
        "Hjælp <script>alert('x')</script> & co",
        "26/1",
        Sagsfremstilling="Det er <b>fedt</b> &amp; **vigtigt**.\n\nBaggrund\n\n- én\n- to <img src=x onerror=alert(1)>",
    )
    put(tmp_path, "dagsorden.md", hostile)
    ingest(config)

    [path] = items_dir(tmp_path).glob("*.html")
    page = lxml.html.fromstring(path.read_bytes())
    assert not list(page.iter("script")) and not list(page.iter("img")), "no markup from the minutes runs"
    assert "<script>alert('x')</script>" in text(page.find(".//h1")), "shown as text"
    body = page.find(".//main")
    assert "Det er fedt & vigtigt." in text(body), "no tag, entity or asterisks shows"
    assert [text(h) for h in body.find_class("sub")] == ["Baggrund"], "a sub-heading looks like one"
    assert [text(li) for li in body.iter("li")][0] == "én"


def test_earlier_decisions_attachments_and_the_kommunes_own_page(tmp_path: Path, server: Server) -> None:
    portal(server, [bilag("b1", "Notat om vindmøller")], decided=True)
    serve_pdf(server, "b1", pdf(tmp_path, "Kommunen foreslår to vindmøller.", "Side to."))
    run(write_portal_config(tmp_path, portal_source("oekonomi", server.url, "attachments = true")))

    page = page_of(tmp_path, "Punkt nummer 1")
    own = [a for a in page.iter("a") if text(a).startswith("Se punktet hos")]
    assert own and own[0].get("href").startswith(f"{server.url}/vis?id=m1"), "the item on the kommune's site"
    [attachment] = page.get_element_by_id("bilag").iter("li")
    assert attachment.find("a").get("href").startswith(f"{server.url}/vis/pdf/bilag/b1")
    assert "Notat om vindmøller" in text(attachment) and "1 side" in text(attachment)
    assert "Godkendt." in text(page.find_class("decision")[0])


def test_an_agenda_shows_earlier_committees_decisions_apart_from_its_own(tmp_path: Path) -> None:
    config = setup(tmp_path)
    earlier = "Beslutning i Økonomiudvalget den 20-10-2026"
    agenda = Doc(committee="Byrådet").item(
        5, "Kontanthjælp", "26/5", Indstilling="At modellen godkendes.", **{earlier: "Anbefales."}
    )
    put(tmp_path, "dagsorden.md", agenda)
    ingest(config)
    page = page_of(tmp_path, "Kontanthjælp")
    assert not page.find_class("decision"), "no decision of this meeting yet"
    [block] = page.get_element_by_id("tidligere").find_class("earlier")
    assert text(block.find("h3")) == "Økonomiudvalget den 20.10.2026" and "Anbefales." in text(block)


def test_a_folder_pdf_is_published_as_the_original_document(tmp_path: Path) -> None:
    config = setup(tmp_path)
    make_pdf(tmp_path / "minutes" / "referat.pdf", standard_agenda().text().replace("**", "").split("\n"))
    ingest(config)
    page = page_of(tmp_path, "Busplan 2027")
    [original] = [a.get("href") for a in page.iter("a") if text(a) == "Originalt dokument"]
    assert (items_dir(tmp_path) / original).resolve().read_bytes().startswith(b"%PDF")


def _mtimes(tmp_path: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in items_dir(tmp_path).glob("*.html")}


def test_only_pages_that_may_have_changed_are_rendered_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_path = setup(tmp_path, bus='terms = ["busplan"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config_path)
    config = load_config(config_path)
    watchlists = load_watchlists(config.bot.watchlists_dir)[0]
    rendered: list[str] = []
    real = pages.page_context

    def counted(config: Config, page: PageData, *rest: Any) -> dict[str, Any]:
        rendered.append(page.item.title)
        return real(config, page, *rest)

    monkeypatch.setattr(pages, "page_context", counted)
    with open_store(config) as store:
        assert publish(config, store, watchlists).pages == 0 and rendered == [], "nothing changed: nothing rendered"

        put(tmp_path, "referat.md", decided(standard_agenda(), skip=(4,)))
        ingest(config_path)  # the minutes: items 1-3 get a decision, item 4 is withdrawn
        assert len(rendered) == 4, "every item changed"
        withdrawn = page_of(tmp_path, "Lukket: Personalesag")
        assert [text(flag) for flag in withdrawn.find_class("removed")] == ["Udgået af dagsordenen"]
        assert text(withdrawn.get_element_by_id("historik").find(".//h3")) == "Udgået"
        rendered.clear()
        (items_dir(tmp_path) / next(iter(_mtimes(tmp_path)))).unlink()
        publish(config, store, watchlists)
        assert len(rendered) == 1, "a missing page is written again"

        (tmp_path / "watchlists" / "bus.toml").write_text('title = "Nye busser"\nterms = ["busplan"]\n', "utf-8")
        rendered.clear()
        publish(config, store, load_watchlists(config.bot.watchlists_dir)[0])
        assert rendered == ["Busplan 2027"], "a renamed feed: only the pages that link it"
        assert "Nye busser" in text(page_of(tmp_path, "Busplan 2027").get_element_by_id("feeds"))

        monkeypatch.setattr(pages, "PAGE_FORMAT", pages.PAGE_FORMAT + 1)
        rendered.clear()
        publish(config, store, watchlists)
        assert len(rendered) == 4, "a new page format renders every page"


def test_a_change_renders_only_its_items(tmp_path: Path) -> None:
    config = setup(tmp_path)
    put(tmp_path, "dagsorden.md", standard_agenda())
    other = Doc(committee="Teknikudvalget", day="03-11-2026").item(1, "Vejplan", "26/900", Indstilling="Godkendes.")
    put(tmp_path, "teknik.md", other)
    ingest(config)
    before = _mtimes(tmp_path)
    put(tmp_path, "teknik-referat.md", decided(other))
    ingest(config)
    after = _mtimes(tmp_path)
    changed = [name for name in after if after[name] != before[name]]
    assert len(changed) == 1 and "Godkendt." in text(page_of(tmp_path, "Vejplan").find_class("decision")[0])


def test_pages_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    config = setup(tmp_path, bus='terms = ["busplan"]\n')
    toml = config.read_text(encoding="utf-8").replace("[bot]\n", f'[bot]\ndatabase_url = "{postgres_url}"\n')
    config.write_text(toml, encoding="utf-8")
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    put(tmp_path, "referat.md", decided(standard_agenda()))
    ingest(config)
    page = page_of(tmp_path, "Busplan 2027")
    assert "Godkendt." in text(page.find_class("decision")[0])
    assert [text(h) for h in page.get_element_by_id("historik").iter("h3")] == ["Beslutning tilføjet", "Nyt punkt"]


def test_stored_markdown_and_tags_become_markup_never_text() -> None:
    html = section_html("Det er **vigtigt**, *nyt* og <b>fedt</b> <script>x</script>.\n\n1. a\n2. b\n\nA\tB\n1\t2")
    page = lxml.html.fromstring(f"<div>{html}</div>")
    assert [text(e) for e in page.iter("strong")] == ["vigtigt"] and [text(e) for e in page.iter("em")] == ["nyt"]
    assert "<b>" not in text(page) and "**" not in text(page) and not list(page.iter("script"))
    assert [text(li) for li in page.iter("li")] == ["a", "b"] and page.find("ol").get("start") == "1"
    assert [text(td) for td in page.iter("td")] == ["A", "B", "1", "2"], "a table's cells stay cells"


def test_the_item_pages_benchmark_runs_at_tiny_scale(tmp_path: Path) -> None:
    result = measure(tmp_path, prepare(YEARS["tiny"][0], tmp_path)["kommuner"])
    assert result["pages"] == result["items"] > 0
    assert {"warm_s", "rebuild_s", "missing_1pct_s"} <= result.keys(), "times are reported, never asserted"


# --- pages nobody links yet ------------------------------------------------------------------------


@contextmanager
def referatvagt_serve(config: Path, log: list[str] | None = None) -> Iterator[int]:
    """`referatvagt serve` in a process of its own; yields its port once it answers. What it
    printed to stderr is added to ``log`` once it has stopped."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "bot", "--config", str(config), "serve", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 15
        while status(port, "/index.html") != 200:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the server did not answer within 15 s"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        stderr = process.communicate(timeout=10)[1]
        if log is not None:
            log.append(stderr)


def status(port: int, path: str) -> int:
    return fetch(port, path)[0]


def fetch(port: int, path: str) -> tuple[int, str]:
    """The reply's status (0 for no reply) and its body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    except OSError:
        return 0, ""
    finally:
        connection.close()


def test_only_linked_items_get_a_page_at_publish_and_serve_makes_any_other_when_asked(tmp_path: Path) -> None:
    config = setup(
        tmp_path,
        bus='terms = ["busplan"]\n',
        budget='terms = ["budgetopfølgning"]\n[deliver]\nfeed = false\nemail = ["a@example.org"]\n',
    )
    config.write_text(config.read_text(encoding="utf-8") + "\n[feeds]\nmax_entries = 1\n", encoding="utf-8")
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)

    feeds = tmp_path / "state" / "feeds"
    linked = {
        entry.link.rsplit("/", 1)[1]
        for name in ("bus.xml", "source-test.xml")
        for entry in feedparser.parse((feeds / name).read_bytes()).entries
    }
    assert len(linked) == 2, "the matched item and the source feed's one entry"
    with open_store(load_config(config)) as store, store.session() as session:
        uids = {item.title: item.uid for item in session.exec(select(Item))}
    in_digest = f"{uids['Budgetopfølgning 3. kvartal']}.html"  # matched by a watchlist without a feed
    written = {path.name for path in items_dir(tmp_path).glob("*.html")}
    assert written == linked | {in_digest}, "pages for what the feeds and the digests link, no others"
    title = next(title for title, uid in uids.items() if f"{uid}.html" not in linked and "Lukket" not in title)
    unlinked = f"/items/{uids[title]}.html"
    assert not (feeds / unlinked.lstrip("/")).exists()

    with referatvagt_serve(config) as port:
        assert status(port, unlinked) == 200, "made from the store when asked for"
        assert status(port, "/items/0123456789abcdef01234567.html") == 404, "no such item"
        assert status(port, "/items/nope.html") == 404
    assert not page_of(tmp_path, title).find_class("decision")

    put(tmp_path, "referat.md", decided(standard_agenda()))
    ingest(config)
    [decision] = page_of(tmp_path, title).find_class("decision")
    assert "Godkendt." in text(decision), "a page made on request is kept up to date like the others"


def test_serve_sends_a_page_it_cannot_keep_when_the_feed_folder_cannot_be_written(tmp_path: Path) -> None:
    config = setup(tmp_path)
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    with open_store(load_config(config)) as store, store.session() as session:
        item = session.exec(select(Item).where(Item.title == "Budgetopfølgning 3. kvartal")).one()
    shutil.rmtree(items_dir(tmp_path))
    items_dir(tmp_path).write_text("not a folder", encoding="utf-8")  # what a page cannot be written into
    log: list[str] = []
    with referatvagt_serve(config, log) as port:
        reply, body = fetch(port, f"/items/{item.uid}.html")
        assert reply == 200 and "Budgetopfølgning 3. kvartal" in body, "the page is sent all the same"
        assert status(port, "/items/0123456789abcdef01234567.html") == 404
    assert f"the page /items/{item.uid}.html is sent without being kept: cannot write the feed folder" in log[0]
    assert items_dir(tmp_path).read_text(encoding="utf-8") == "not a folder"
