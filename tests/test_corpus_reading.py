"""What a reader sees of the three real corpus minutes: an item page per item with its decision
set apart and no markup syntax, a mail whose text part is plain, a search that finds them."""

from __future__ import annotations

import shutil
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from lxml import html

from bot.config import load_config

from .conftest import CORPUS
from .helpers import json_lines, run_cli, write_config
from .test_search import search, serving

NAMES = sorted(p.name for p in CORPUS.glob("*")) if CORPUS.is_dir() else []
MARKUP = ("**", "{+", "+}", "[-", "-]", "<b>", "</b>", "<i>", "&lt;")
WATCHLIST = 'terms = ["beskæftigelse", "kontanthjælp", "*ledighed"]\n[deliver]\nemail = ["a@example.org"]\n'
EMAIL = '\n[email]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\nfrom = "vagt@example.org"\n'


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not NAMES:
        pytest.skip("../shared/corpus is not available")
    root = tmp_path_factory.mktemp("corpus")
    config = write_config(root)
    for name in NAMES:
        shutil.copyfile(CORPUS / name, root / "minutes" / name)
    (root / "watchlists").mkdir()
    (root / "watchlists" / "arbejde.toml").write_text(WATCHLIST, encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8") + EMAIL, encoding="utf-8")
    assert run_cli(config, "ingest", "--send-backfill").exit_code == 0
    return config


def _pages(config: Path) -> dict[str, html.HtmlElement]:
    folder = config.parent / "state" / "feeds" / "items"
    return {page.stem: html.fromstring(page.read_bytes()) for page in folder.glob("*.html")}


def test_every_item_has_a_page_with_its_title_and_its_decision_set_apart(ingested: Path) -> None:
    items = json_lines(ingested, "items")
    pages = _pages(ingested)
    assert len(pages) == len(items) > 20
    by_title = {" ".join(page.findtext(".//h1").split()): page for page in pages.values()}
    for item in items:
        page = by_title[" ".join(f"Punkt {item['number']}: {item['title']}".split())]
        decision = page.find_class("decision")
        if item["decision"]:
            first_words = " ".join(item["decision"].replace("**", "").split()[:4])
            assert first_words in " ".join(decision[0].text_content().split())
        else:
            assert not decision


def test_no_item_page_shows_markup_syntax(ingested: Path) -> None:
    for uid, page in _pages(ingested).items():
        text = page.text_content()
        assert not [mark for mark in MARKUP if mark in text], uid


def test_the_mail_of_the_corpus_is_plain_text_with_distinct_items_counted(ingested: Path, tmp_path: Path) -> None:
    assert run_cli(ingested, "digest", "--now", "--dry-run", str(tmp_path)).exit_code == 0
    [eml] = tmp_path.glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    plain = next(part for part in message.iter_parts()).get_content()
    assert not [mark for mark in MARKUP if mark in plain]
    matched = {(m["kommune"], m["meeting_date"], m["number"]) for m in json_lines(ingested, "matches")}
    assert f"referatvagt: {len(matched)} " in str(message["Subject"])


def test_a_search_finds_the_corpus_items_and_links_their_pages(ingested: Path) -> None:
    config = load_config(ingested)
    with serving(config) as port:
        found = search(port, q="kontanthjælp")
        assert found.status == 200
        page = html.fromstring(found.body)
        links = [a.get("href") for a in page.iter("a") if "items/" in (a.get("href") or "")]
        assert links
        for link in links:
            assert (config.bot.state_dir / "feeds" / link[link.index("items/") :]).exists()
