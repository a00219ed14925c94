"""Feeds as real feed readers see them: feedparser (bozo == 0), a strict XML parser, stable GUIDs;
from a store on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import feedparser
import pytest
from lxml import etree
from sqlalchemy import MetaData

from bot.config import load_config
from bot.run.pipeline import open_store

from .helpers import Doc, add_watchlists, decided, ingest, put, run_cli, standard_agenda, write_config

pytestmark = pytest.mark.usefixtures("database")

ATOM = "{http://www.w3.org/2005/Atom}"


def setup(tmp_path: Path, **watchlists: str) -> Path:
    config = write_config(tmp_path)
    add_watchlists(tmp_path, **watchlists)
    return config


def feeds_dir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "feeds"


def parse(path: Path) -> feedparser.FeedParserDict:
    """Parse like a feed reader and like a strict XML parser; both must accept the feed."""
    data = path.read_bytes()
    etree.fromstring(data, etree.XMLParser(recover=False, resolve_entities=False))
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    guids = [entry.id for entry in parsed.entries]
    assert len(guids) == len(set(guids)), "no duplicate GUIDs"
    assert all(entry.published_parsed for entry in parsed.entries), "timezone-aware dates feedparser can read"
    return parsed


def all_feeds(tmp_path: Path) -> list[Path]:
    return sorted(p for p in feeds_dir(tmp_path).rglob("*") if p.suffix in (".xml", ".atom"))


def test_every_feed_is_valid_and_has_the_right_entries(tmp_path: Path) -> None:
    config = setup(tmp_path, bus='title = "Busser"\nterms = ["busplan"]\n', budget='terms = ["budget"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    put(tmp_path, "referat.md", decided(standard_agenda()).text().replace("2,4 mio. kr.", "2,6 mio. kr."))
    ingest(config)

    names = {p.relative_to(feeds_dir(tmp_path)).as_posix() for p in all_feeds(tmp_path)}
    feeds = {"bus.xml", "bus.atom", "budget.xml", "budget.atom", "source-test.xml", "source-test.atom"}
    assert names == feeds | {"_health.xml"}
    for path in all_feeds(tmp_path):
        parse(path)

    bus = parse(feeds_dir(tmp_path) / "bus.xml")
    assert bus.feed.title == "referatvagt: Busser"
    assert [entry.title for entry in bus.entries] == [
        "Beslutning: Testrup · Økonomiudvalget 02.11.2026 · Punkt 3: Busplan 2027",
        "Testrup · Økonomiudvalget 02.11.2026 · Punkt 3: Busplan 2027",
    ]
    newest = bus.entries[0]
    assert "ny <b>busplan</b> med" in newest.content[0].value, "the snippet, terms in bold (readers keep <b>)"
    assert "Godkendt." in newest.content[0].value
    assert [tag.term for tag in newest.tags] == ["Testrup", "Økonomiudvalget", "busplan"]
    assert newest.link.startswith("http://127.0.0.1:8080/items/") and newest.link.endswith(".html")
    page = feeds_dir(tmp_path) / newest.link.removeprefix("http://127.0.0.1:8080/")
    assert "<h1>Punkt 3: Busplan 2027</h1>" in page.read_text(encoding="utf-8")
    assert newest.id.startswith("urn:referatvagt:bus:") and newest.id.endswith(":v2")

    budget = parse(feeds_dir(tmp_path) / "budget.atom")
    assert budget.entries[0].title.startswith("Beslutning: ")
    content = budget.entries[0].content[0].value
    assert "<del" in content and ">2,4</del>" in content and ">2,6</ins>" in content, "a readable diff"

    source = parse(feeds_dir(tmp_path) / "source-test.xml")
    assert len(source.entries) == 4 + 3


def test_each_entry_shows_the_change_of_its_own_event(tmp_path: Path) -> None:
    config = setup(tmp_path, w='terms = ["kvartal", "busplan"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    minutes = decided(standard_agenda()).text().replace("2,4 mio.", "2,6 mio.").replace("tre nye", "fire nye")
    put(tmp_path, "referat.md", minutes)
    ingest(config)
    entries = {entry.title: entry.content[0].value for entry in parse(feeds_dir(tmp_path) / "w.xml").entries}
    where = "Testrup · Økonomiudvalget 02.11.2026 · Punkt"
    budget, bus = f"{where} 2: Budgetopfølgning 3. kvartal", f"{where} 3: Busplan 2027"
    assert ">2,4</del>" in entries[f"Beslutning: {budget}"] and ">tre</del>" not in entries[f"Beslutning: {budget}"]
    assert ">tre</del>" in entries[f"Beslutning: {bus}"] and ">2,4</del>" not in entries[f"Beslutning: {bus}"]
    assert "<del" not in entries[budget] + entries[bus], "a new item's entry has no diff"


def test_regenerating_keeps_guids_and_bytes(tmp_path: Path) -> None:
    config = setup(tmp_path, bus='terms = ["busplan"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    before = {path: path.read_bytes() for path in feeds_dir(tmp_path).rglob("*") if path.is_file()}
    mtimes = {path: path.stat().st_mtime_ns for path in before}
    ingest(config)
    assert {path: path.read_bytes() for path in before} == before
    assert {path: path.stat().st_mtime_ns for path in before} == mtimes, "unchanged feeds are not rewritten"
    guids = [entry.id for entry in parse(feeds_dir(tmp_path) / "bus.xml").entries]
    put(tmp_path, "referat.md", decided(standard_agenda()))
    ingest(config)
    after = [entry.id for entry in parse(feeds_dir(tmp_path) / "bus.xml").entries]
    assert after[1:] == guids, "old entries keep their GUIDs; the new version is a new entry"


def test_a_rebuilt_store_gives_the_same_guids(tmp_path: Path) -> None:
    config = setup(tmp_path, bus='terms = ["busplan"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    guids = [entry.id for entry in parse(feeds_dir(tmp_path) / "bus.xml").entries]
    with open_store(load_config(config)) as store:  # the database is lost: every table goes
        tables = MetaData()
        tables.reflect(store.engine)
        tables.drop_all(store.engine)
    ingest(config)
    assert [entry.id for entry in parse(feeds_dir(tmp_path) / "bus.xml").entries] == guids


def test_feed_metadata_self_link_build_date_and_ttl(tmp_path: Path) -> None:
    config = setup(tmp_path, bus='terms = ["busplan"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    rss = etree.parse(str(feeds_dir(tmp_path) / "bus.xml"))
    self_links = rss.findall(f".//{ATOM}link[@rel='self']")
    assert [link.get("href") for link in self_links] == ["http://127.0.0.1:8080/bus.xml"]
    assert rss.findtext("channel/ttl") == "30" and rss.findtext("channel/lastBuildDate")
    atom = etree.parse(str(feeds_dir(tmp_path) / "bus.atom")).getroot()
    assert [link.get("href") for link in atom.findall(f"{ATOM}link[@rel='self']")] == ["http://127.0.0.1:8080/bus.atom"]
    for entry in atom.findall(f"{ATOM}entry"):
        assert len(entry.findall(f"{ATOM}link")) == 1, "one alternate link per Atom entry"


HOSTILE = "Punkt 7: Hjælp <script>alert('x')</script> ]]> & \x01\x02\x1f\x7f" + " meget lang titel" * 40


def test_hostile_minutes_text_stays_escaped_and_valid(tmp_path: Path) -> None:
    config = setup(tmp_path, all='terms = ["hjælp"]\n')
    text = (
        standard_agenda().text()
        + f"\n# {HOSTILE}\n\n26/700\n\n## Indstilling\n\nAt <img src=x onerror=alert(1)> hjælp ]]> gives.\x00\n"
    )
    (tmp_path / "minutes" / "hostile.md").write_bytes(text.encode("utf-8"))
    ingest(config)
    for path in all_feeds(tmp_path):
        parse(path)
        xml = path.read_text(encoding="utf-8")
        assert "<script" not in xml and "<img" not in xml
    entry = parse(feeds_dir(tmp_path) / "all.xml").entries[0]
    assert len(entry.title) <= 300 and entry.title.endswith("…")
    raw = etree.parse(str(feeds_dir(tmp_path) / "all.xml"))
    html = raw.findtext(".//{http://purl.org/rss/1.0/modules/content/}encoded")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    index = (feeds_dir(tmp_path) / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in index


def test_at_most_max_entries_newest_first(tmp_path: Path) -> None:
    config = setup(tmp_path, sag='terms = ["sag"]\n')
    with config.open("a", encoding="utf-8") as handle:
        handle.write('\n[feeds]\nbase_url = "https://example.org/rv"\nmax_entries = 3\n')
    doc = Doc()
    for number in range(1, 7):
        doc.item(number, f"Sag nummer {number}", f"26/{number}", Indstilling="Godkendes.")
    put(tmp_path, "dagsorden.md", doc)
    ingest(config)
    feed = parse(feeds_dir(tmp_path) / "sag.xml")
    assert len(feed.entries) == 3
    assert feed.feed.links[0].href.startswith("https://example.org/rv/")


def test_private_watchlists_get_an_unguessable_address_and_stay_unlisted(tmp_path: Path) -> None:
    config = setup(tmp_path, open='terms = ["busplan"]\n', secret='terms = ["budget"]\npublic = false\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    private = [p for p in all_feeds(tmp_path) if "secret" in p.name]
    assert len(private) == 2 and all(p.parent.parent.name == "private" for p in private)
    token = private[0].parent.name
    assert len(token) >= 20
    assert not (feeds_dir(tmp_path) / "secret.xml").exists()
    for listing in ("index.html", "feeds.opml"):
        text = (feeds_dir(tmp_path) / listing).read_text(encoding="utf-8")
        assert "secret" not in text and token not in text and "open.xml" in text
    printed = run_cli(config, "feeds").stdout
    assert f"http://127.0.0.1:8080/private/{token}/secret.xml" in printed


def test_a_watchlist_made_private_is_removed_from_its_public_address(tmp_path: Path) -> None:
    config = setup(tmp_path, w='terms = ["busplan"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    assert (feeds_dir(tmp_path) / "w.xml").exists()
    (tmp_path / "watchlists" / "w.toml").write_text('terms = ["busplan"]\npublic = false\n', encoding="utf-8")
    ingest(config)
    assert not (feeds_dir(tmp_path) / "w.xml").exists()


def test_index_and_opml_list_the_public_feeds(tmp_path: Path) -> None:
    config = setup(tmp_path, bus='title = "Busser"\nterms = ["busplan"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    index = (feeds_dir(tmp_path) / "index.html").read_text(encoding="utf-8")
    assert "Busser" in index and 'href="http://127.0.0.1:8080/bus.xml"' in index and "busplan" in index
    assert "Punkt 3: Busplan 2027" in index, "the five newest entries"
    opml = ElementTree.fromstring((feeds_dir(tmp_path) / "feeds.opml").read_bytes())
    assert [o.get("xmlUrl") for o in opml.iter("outline")] == ["http://127.0.0.1:8080/bus.xml"]


@pytest.mark.parametrize("text", ['terms = ["busplan"]\n[deliver]\nfeed = false\n'])
def test_no_feed_when_delivery_by_feed_is_off(tmp_path: Path, text: str) -> None:
    config = setup(tmp_path, quiet=text)
    put(tmp_path, "dagsorden.md", standard_agenda())
    ingest(config)
    assert not (feeds_dir(tmp_path) / "quiet.xml").exists()
