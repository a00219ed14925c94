"""Mails a person reads (issue 14, point 3), through a real SMTP server (aiosmtpd): a subject that
counts distinct items and says what happened to them, a text part without markup of any kind, a
changed item's news first, and snippets from prose rather than from tables."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.match.automaton import Engine
from bot.match.query import parse_term
from bot.match.snippet import make_snippet
from bot.publish.digest_words import count_text, plain

from .helpers import Doc, decided, put, standard_agenda
from .test_email import T0, Server, cycle, parts, setup

BUSSER = 'title = "Busser"\nterms = ["busplan", "budget"]\n[deliver]\nemail = ["a@example.org"]\ndigest = "immediate"\n'
TRAFIK = 'title = "Trafik"\nterms = ["busplan"]\n[deliver]\nemail = ["a@example.org"]\ndigest = "immediate"\n'
# What a reader should never see in a text part: markdown, diff markers, HTML tags and entities
MARKUP = re.compile(r"\*\*|__|\{\+|\+\}|\[-|-\]|</?[A-Za-z][^>]*>|&[a-z]+;|&#\d+;")


def only_mail(smtp: Server) -> tuple[str, str, str]:
    """Subject, text part and HTML part of the one mail the relay got."""
    ((_, message),) = smtp.inbox.messages
    assert isinstance(message, EmailMessage)
    text, html = parts(message)
    return str(message["Subject"]), text, html


def item_block(text: str, title: str) -> list[str]:
    """The lines of one item in the text part, from its title line to the next blank line."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.strip().endswith(title))
    block = []
    for line in lines[start:]:
        if not line.strip():
            break
        block.append(line.strip())
    return block


def test_the_subject_counts_distinct_items_new_and_decided(tmp_path: Path, smtp: Server) -> None:
    config = setup(tmp_path, smtp.port, busser=BUSSER, trafik=TRAFIK)
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, T0)  # a first ingest: feeds only
    # Then, in one cycle: the minutes decide items 2 and 3, and a new agenda brings three items.
    # Item 3 (and two of the new ones) match both watchlists: still one item each in the count.
    put(tmp_path, "referat.md", decided(standard_agenda()))
    later = Doc(day="07-12-2026")
    later.item(1, "Busplan Nord", "26/501", Sagsfremstilling="Ny busplan for den nordlige del.")
    later.item(2, "Busplan Syd", "26/502", Sagsfremstilling="Ny busplan for den sydlige del.")
    later.item(3, "Budget 2028", "26/503", Sagsfremstilling="Første behandling af budget 2028.")
    put(tmp_path, "dagsorden-december.md", later)
    assert cycle(config, T0 + timedelta(hours=1)).mail.sent == 1
    subject, text, _ = only_mail(smtp)
    assert subject == "referatvagt: 5 punkter (3 nye, 2 med beslutning) – Busser, Trafik"
    assert "== Busser (5 punkter) ==" in text and "== Trafik (3 punkter) ==" in text


@pytest.mark.parametrize(
    ("counts", "words"),
    [
        ({"new": 1}, "1 nyt punkt"),
        ({"new": 4}, "4 nye punkter"),
        ({"decision": 1}, "1 punkt med beslutning"),
        ({"decision": 2}, "2 punkter med beslutning"),
        ({"changed": 1}, "1 opdateret punkt"),
        ({"changed": 3}, "3 opdaterede punkter"),
        ({"backfill": 1}, "1 ældre punkt"),
        ({"new": 1, "decision": 1}, "2 punkter (1 nyt, 1 med beslutning)"),
        ({"new": 3, "changed": 1, "backfill": 2}, "6 punkter (3 nye, 1 opdateret, 2 ældre)"),
    ],
)
def test_the_subject_words_are_correct_danish_in_singular_and_plural(counts: dict[str, int], words: str) -> None:
    assert count_text(counts) == words


def test_the_text_part_is_plain_text_with_added_and_removed_in_words(tmp_path: Path, smtp: Server) -> None:
    config = setup(tmp_path, smtp.port, busser=BUSSER)
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, T0)
    changed = standard_agenda()
    changed.items[2] = (
        3,
        "Busplan 2027 <b>revideret</b>",
        "26/300",
        {"Sagsfremstilling": "Forslag til ny **busplan** med to nye linjer &amp; en <i>natbus</i>."},
    )
    put(tmp_path, "dagsorden.md", changed)
    assert cycle(config, T0 + timedelta(hours=1)).mail.sent == 1
    _, text, html = only_mail(smtp)
    assert not MARKUP.search(text), MARKUP.search(text)
    block = item_block(text, "Busplan 2027 revideret")
    assert any(line.startswith("Tilføjet i Sagsfremstilling: ") and "to" in line for line in block), block
    assert any(line.startswith("Fjernet fra Sagsfremstilling: ") and "tre" in line for line in block), block
    assert "<del" in html and "Tilføjet i" in html, "the HTML part says the same, with colour"
    assert plain("<p>Ja &amp; nej, **bestemt**</p>") == "Ja & nej, bestemt"


def test_a_changed_item_shows_what_was_added_first_and_its_snippet_from_the_new_text(
    tmp_path: Path, smtp: Server
) -> None:
    config = setup(tmp_path, smtp.port, trafik=TRAFIK)
    opening = "Forslag til ny busplan med tre nye linjer, som blev drøftet på mødet i september."
    doc = Doc().item(3, "Trafikplan", "26/300", Sagsfremstilling=opening)
    put(tmp_path, "dagsorden.md", doc)
    cycle(config, T0)
    news = "Busplanen er nu sendt i høring hos borgerne frem til jul."
    changed = Doc().item(3, "Trafikplan", "26/300", Sagsfremstilling=f"{opening} {news}")
    put(tmp_path, "dagsorden.md", changed)
    assert cycle(config, T0 + timedelta(hours=1)).mail.sent == 1
    _, text, _ = only_mail(smtp)
    title, published, link, first, *rest = item_block(text, "Punkt 3: Trafikplan")
    assert title.startswith("* Opdateret: ") and published.startswith("Dagsorden offentliggjort ")
    assert link.startswith("http")
    assert first.startswith("Tilføjet i Sagsfremstilling: ") and "Busplanen er nu sendt i høring" in first
    assert not any("drøftet" in line for line in rest), "the old text is not the snippet"

    # A decision comes first too, before the snippet
    put(tmp_path, "referat.md", decided(changed))
    assert cycle(config, T0 + timedelta(hours=2)).mail.sent == 1
    (_, message) = smtp.inbox.messages[-1]
    title, _, _, first, *rest = item_block(parts(message)[0], "Punkt 3: Trafikplan")
    assert title.startswith("* Beslutning: ") and first == "Beslutning: Godkendt."
    assert rest, "the snippet follows the decision"


TABLE = "Tabel 2. Kontanthjælp 12.345 13.456 14.567 15.678 Integration 1.234 2.345 3.456 Årsværk 12 13 14 15 16 17 18"
PROSE = "Udgifterne til kontanthjælp stiger fortsat, og udvalget bør overveje en ny indsats for de unge ledige."


def test_a_snippet_shows_prose_with_the_term_rather_than_a_table(tmp_path: Path, smtp: Server) -> None:
    watchlist = 'title = "Kontanthjælp"\nterms = ["kontanthjælp"]\n[deliver]\nemail = ["a@example.org"]\n'
    config = setup(tmp_path, smtp.port, kontant=watchlist + 'digest = "immediate"\n')
    doc = Doc().item(1, "Økonomi", "26/1", Sagsfremstilling=f"{TABLE}\n\n{PROSE}")
    put(tmp_path, "dagsorden.md", doc)
    assert cycle(config, T0, send_backfill=True).mail.sent == 1
    _, text, _ = only_mail(smtp)
    snippet = item_block(text, "Punkt 1: Økonomi")[-1]
    assert "Udgifterne til kontanthjælp stiger fortsat" in snippet and "12" not in snippet, snippet
    # Only a table: its numbers are the snippet, as there is nothing better
    term = parse_term("kontanthjælp")
    engine = Engine([term])
    words = engine.words(TABLE)
    assert "12.345" in make_snippet(words, engine.search(words), [term]).text
