"""Fuzzing the parts that read what strangers write: minutes (bytes and text) and watchlists.

Whatever the input, the only exceptions are the bot's own one-line errors (:class:`BotError`
and its subclasses), and what comes out keeps the promises later stages rely on (feeds refuse
XML-forbidden characters; titles are one line; snippets highlight inside their own text).

Runs ``REFERATVAGT_FUZZ_EXAMPLES`` examples per test (default 200, a few seconds each); a long
run: ``REFERATVAGT_FUZZ_EXAMPLES=100000 python -m pytest tests/test_fuzz.py``. With ``CI`` set the
examples are derandomized, so CI runs are repeatable.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from bot.errors import BotError, ConfigError
from bot.match.matcher import ItemText, Matcher
from bot.match.query import TermError, fold, parse_term
from bot.match.watchlists import Watchlist, trial_watchlist, watchlist_from_text
from bot.parse.extract import extract_text
from bot.parse.minutes import ParsedMeeting, collapse
from bot.parse.parser import MAX_ITEM_NUMBER, parse_minutes

from .helpers import Doc, decided, standard_agenda

settings.register_profile(
    "referatvagt-fuzz",
    max_examples=int(os.environ.get("REFERATVAGT_FUZZ_EXAMPLES", "200")),
    deadline=None,  # a shared CI machine stalls now and then; hangs show as a slow test instead
    derandomize="CI" in os.environ,
    database=None,  # no example database in the working tree: a failure prints its example and a blob
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
FUZZ = settings.get_profile("referatvagt-fuzz")

SAMPLES = sorted((Path(__file__).resolve().parents[1] / "bot" / "samples").glob("*/*.*"))
SAMPLE_FILES = [path for path in SAMPLES if path.suffix in (".md", ".txt", ".html") and path.name != "README.md"]
# What XML 1.0 forbids (lxml, and so every feed, refuses these), and the bidirectional controls
# that make a title read differently than it is stored ("\u202egpj.exe"): the extractor drops both.
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
LAYOUT_MARKS = "\ufdd0\ufdd1\ufdd2"  # the HTML flattener's private marks must never leak out


# --- strategies: text -----------------------------------------------------------------------------

# Characters that have broken text pipelines before: controls, bidi overrides, BOM, noncharacters,
# combining marks, letters whose case folding changes length, Danish letters and markup.
AWKWARD = (
    "\x00\x01\x08\x0b\x0c\r\t\x1b\x7f\x85\x9d\xa0\xad\u2028\u2029\u200b\u200f\u202e\u2066\ufeff"
    "\ufdd0\ufdd1\ufdd2\ufffe\uffff\ud800\udfff\u0301\u030a\u0130\u00df\u01c5\ufb01\u2163"
    "æøåÆØÅ#*_~`>|-–—.:;,/\\\"'<>&[](){}…%§½²"
)
# Two alphabets, not one mixed per character: drawing each character through one_of() made
# generation most of the run time.
noise = st.one_of(st.text(AWKWARD + "abc ØÅ\n", max_size=40), st.text(max_size=20))  # text(): any code point

LETTERS = "abcdefghijklmnopqrstuvwxyzæøå"
SECTION_HEADINGS = (
    "Indstilling",
    "Sagsfremstilling",
    "Økonomiske konsekvenser",
    "Beslutning i Økonomiudvalget den 02-11-2026",
    "Beslutning",
    "Beslutning:",
    "Bilag",
    "Resumé",
    "Høring",
    "Indstilling (2)",
)
COMMITTEES = ("Økonomiudvalget", "Teknik- og Miljøudvalget", "Byrådet 2026-2029", "", "Udvalg\u202e for x")
DAYS = ("02-11-2026", "2. november 2026", "31-02-2026", "00-00-0000", "1.1.26", "99-99-9999", "")


@st.composite
def built_minutes(draw: st.DrawFn) -> str:
    """A minutes document in the markdown layout with odd but plausible parts."""
    doc = Doc(
        kind=draw(st.sampled_from(("DAGSORDEN", "REFERAT", "Tillægsdagsorden", "Beslutningsprotokol", "Notat"))),
        committee=draw(st.one_of(st.sampled_from(COMMITTEES), noise)),
        day=draw(st.one_of(st.sampled_from(DAYS), noise)),
    )
    for _ in range(draw(st.integers(0, 6))):
        number = draw(st.one_of(st.integers(0, 12), st.integers(0, 10**12)))
        title = draw(st.one_of(st.sampled_from(("Busplan 2027", "Lukket: Personalesag", "")), noise))
        case = draw(st.one_of(st.sampled_from(("26/100", "00.01.00-A00-1-26", "")), noise))
        headings = draw(st.lists(st.one_of(st.sampled_from(SECTION_HEADINGS), noise), max_size=4))
        bodies = draw(st.lists(noise, min_size=len(headings), max_size=len(headings)))
        doc.items.append((number, title, case, dict(zip(headings, bodies, strict=True))))
    return doc.text()


def known_minutes() -> st.SearchStrategy[str]:
    agenda = standard_agenda()
    documents = [agenda.text(), decided(agenda).text()]
    documents += [extract_text(path.read_bytes(), path.name).text for path in SAMPLE_FILES]
    return st.sampled_from(documents)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A document with lines deleted, repeated, marked up, cut or sprinkled with odd characters."""
    lines = draw(base).split("\n")
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, max(0, len(lines) - 1)))
        operation = draw(st.sampled_from(("delete", "repeat", "insert", "sprinkle", "markup", "cut", "join")))
        if not lines:
            lines = [draw(noise)]
        elif operation == "delete":
            del lines[at]
        elif operation == "repeat":
            lines[at:at] = lines[at : at + draw(st.integers(1, 5))]
        elif operation == "insert":
            lines.insert(at, draw(st.one_of(noise, st.sampled_from(("# Punkt 1: Igen", "Punkt 10000: Stort", "")))))
        elif operation == "sprinkle":
            line = lines[at]
            cut = draw(st.integers(0, len(line)))
            lines[at] = line[:cut] + draw(noise) + line[cut:]
        elif operation == "markup":
            lines[at] = (
                draw(st.sampled_from(("## ", "**", "# ", "- ", "\t", "   ")))
                + lines[at]
                + draw(st.sampled_from(("", "**", " ...... 3", ":")))
            )
        elif operation == "cut":
            lines = lines[: at + 1]
        else:
            lines[at : at + 2] = [" ".join(lines[at : at + 2])]
    return "\n".join(lines)


minutes_text = st.one_of(noise, built_minutes(), mutated(built_minutes()), mutated(known_minutes()))


# --- strategies: bytes ------------------------------------------------------------------------------


@st.composite
def as_html(draw: st.DrawFn, text: st.SearchStrategy[str]) -> str:
    """Minutes as an HTML page, with tag soup, entities and deep nesting mixed in."""
    parts = ['<html><head><meta charset="utf-8"><title>x</title></head><body>']
    for line in draw(text).split("\n"):
        if line.startswith("## "):
            parts.append(f"<h2>{line[3:]}</h2>")
        elif line.startswith("# "):
            parts.append(f"<h1>{line[2:]}</h1>")
        elif line:
            parts.append(f"<p>{line}</p>")
        if draw(st.integers(0, 9)) == 0:
            parts.append(
                draw(
                    st.sampled_from(
                        (
                            "<b>",
                            "</div>",
                            "<br>",
                            "<table><tr><td>a<td>b</tr>",
                            "<ol type='a' start='x'><li>",
                            "<!--",
                            "<script>",
                            "&nbsp;&#0;&#xD800;&#x202E;&bogus;",
                            "<p><b>Punkt 2: Fed</b></p>",
                            "<font>" * 3000,
                            "<svg><text>x</text></svg>",
                            "<?xml version='1.0' encoding='utf-16'?>",
                        )
                    )
                )
            )
    return "".join(parts) + "</body></html>"


ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "latin-1")


@st.composite
def encoded(draw: st.DrawFn, text: st.SearchStrategy[str]) -> bytes:
    return draw(text).encode(draw(st.sampled_from(ENCODINGS)), errors="replace")


@st.composite
def damaged(draw: st.DrawFn, data: st.SearchStrategy[bytes]) -> bytes:
    """Bytes with a few flipped, inserted or deleted, or cut short."""
    raw = bytearray(draw(data))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(raw)))
        operation = draw(st.sampled_from(("flip", "insert", "delete", "cut")))
        if operation == "flip" and at < len(raw):
            raw[at] = draw(st.integers(0, 255))
        elif operation == "insert":
            raw[at:at] = draw(st.binary(max_size=8))
        elif operation == "delete":
            del raw[at : at + draw(st.integers(1, 16))]
        else:
            del raw[at:]
    return bytes(raw)


def sample_bytes() -> st.SearchStrategy[bytes]:
    return st.sampled_from([path.read_bytes() for path in SAMPLES])


document_bytes = st.one_of(
    st.binary(max_size=2000),
    encoded(minutes_text),
    encoded(as_html(minutes_text)),
    damaged(sample_bytes()),
    damaged(encoded(as_html(known_minutes()))),
    st.binary(max_size=400).map(lambda tail: b"%PDF-1.7\n" + tail),
)


# --- minutes ---------------------------------------------------------------------------------------


def check_meeting(meeting: ParsedMeeting) -> None:
    """What every parsed meeting promises, whatever the input."""
    assert meeting.items, "a document without items is a ParseError, not an empty meeting"
    assert meeting.committee.strip()
    for item in meeting.items:
        assert item.number is None or 0 <= item.number <= MAX_ITEM_NUMBER
        assert item.title and item.title == collapse(item.title), "a title is one line without edge spaces"
        assert all(section.heading for section in item.sections)
        if item.closed:
            assert item.sections == () and item.decision is None, "a closed item shows no text"
        if item.decision is not None:
            assert item.decisions, "the item's own decision is one of its decisions"


def check_clean(text: str, where: str) -> None:
    assert not UNSAFE.search(text), f"{where}: a character feeds refuse or a bidi control: {UNSAFE.findall(text)!r}"


@FUZZ
@given(text=minutes_text)
def test_the_parser_raises_only_parse_errors_and_keeps_its_promises(text: str) -> None:
    try:
        meeting = parse_minutes(text, "fuzz.md")
    except BotError as exc:
        event(f"refused: {type(exc).__name__}")  # --hypothesis-show-statistics: how much got through
        return
    event("parsed")
    check_meeting(meeting)


@FUZZ
@given(
    numbers=st.lists(st.integers(0, MAX_ITEM_NUMBER), min_size=1, max_size=8, unique=True),
    titles=st.lists(st.text(LETTERS + LETTERS.upper() + " 0123456789,-", min_size=1, max_size=30), min_size=8),
)
def test_every_item_heading_becomes_one_item_with_its_number_and_title(numbers: list[int], titles: list[str]) -> None:
    doc = Doc()
    for number, title in zip(numbers, titles, strict=False):
        assume(collapse(title))
        doc.item(number, collapse(title), "26/1000", Indstilling="At sagen godkendes.")
    parsed = parse_minutes(doc.text(), "fuzz.md")
    assert [(item.number, item.title) for item in parsed.items] == [(n, t) for n, t, _, _ in doc.items]


@FUZZ
@given(raw=document_bytes, suffix=st.sampled_from((".md", ".txt", ".html")))
def test_extract_and_parse_raise_only_bot_errors_and_keep_text_feed_safe(raw: bytes, suffix: str) -> None:
    try:
        extracted = extract_text(raw, f"fuzz{suffix}")
    except BotError as exc:
        event(f"not extracted: {type(exc).__name__}")
        return
    event(f"extracted as {extracted.format}")
    text = extracted.text
    check_clean(text, "extracted text")
    assert "\r" not in text and unicodedata.is_normalized("NFC", text)
    if extracted.format == "html":
        assert not any(mark in text for mark in LAYOUT_MARKS)
    try:
        meeting = parse_minutes(text, f"fuzz{suffix}")
    except BotError:
        return
    event("parsed")
    check_meeting(meeting)
    for item in meeting.items:
        check_clean(item.title, "title")
        for section in item.sections:
            check_clean(section.heading + section.text, "section")


# --- the query language and watchlists -----------------------------------------------------------

word = st.text(st.sampled_from(LETTERS + LETTERS.upper() + "0123456789İßǅ\u0301"), min_size=1, max_size=12)


@st.composite
def term_text(draw: st.DrawFn) -> str:
    """A term as a user might write it, valid or not: markers, phrases, hyphens, odd letters."""
    words = draw(st.lists(word, min_size=1, max_size=3))
    gaps = draw(st.lists(st.sampled_from((" ", "-", " - ", "'", "  ")), min_size=len(words), max_size=len(words)))
    body = "".join(w + g for w, g in zip(words, gaps, strict=True))[: -len(gaps[-1])]
    marker = draw(st.sampled_from(("", "*", "="))) if len(words) == 1 else ""
    text = marker + body
    return f'"{text}"' if len(words) > 1 and draw(st.booleans()) else text


any_term = st.one_of(term_text(), st.text(max_size=20), noise)


def parses(raw: str) -> bool:
    try:
        parse_term(raw)
    except TermError:
        return False
    return True


valid_terms = st.lists(term_text(), min_size=1, max_size=4).map(lambda terms: [t for t in terms if parses(t)])

WATCHLIST_KEYS = (
    "title",
    "terms",
    "all",
    "exclude",
    "kommuner",
    "committees",
    "sections",
    "cases",
    "only_new_text",
    "backfill_days",
    "fold_aa",
    "public",
    "deliver",
    "slug",
    "email",
    "digest",
    "feed",
    "unknown",
)


def toml_value(value: object) -> str:
    """A tiny TOML writer for the fuzzer's values (strings as JSON-style basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


scalars = st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), any_term)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(WATCHLIST_KEYS), inner)),
    max_leaves=12,
)


addresses = st.one_of(
    st.sampled_from(("a@example.org", "læser@example.dk", "a,spion@evil.example", "x@y", "<a@b.c>", "a@b.c\x00")),
    st.text(max_size=20),
)
# Mostly well-typed, so that many files load and the rest fail late, on one value.
plausible = st.fixed_dictionaries(
    {"terms": st.lists(term_text(), max_size=4)},
    optional={
        "title": any_term,
        "all": st.lists(term_text(), max_size=2),
        "exclude": st.lists(any_term, max_size=2),
        "committees": st.lists(any_term, max_size=2),
        "sections": st.lists(st.sampled_from(("Beslutning", "Titel", "Indstilling", "")), max_size=2),
        "cases": st.lists(st.sampled_from(("26/100", "", "00.01.00-A00-1-26")), max_size=2),
        "backfill_days": st.integers(-1, 10**6),
        "fold_aa": st.booleans(),
        "only_new_text": st.booleans(),
        "public": st.booleans(),
        "deliver": st.fixed_dictionaries(
            {},
            optional={
                "email": st.lists(addresses, max_size=3),
                "digest": st.sampled_from(("immediate", "daily", "weekly", "hourly")),
                "feed": st.booleans(),
            },
        ),
    },
)


@st.composite
def watchlist_toml(draw: st.DrawFn) -> str:
    keys = draw(st.one_of(plausible, st.dictionaries(st.sampled_from(WATCHLIST_KEYS), values, max_size=6)))
    text = "\n".join(f"{key} = {toml_value(value)}" for key, value in keys.items())
    return draw(st.one_of(st.just(text), st.just(text), mutated(st.just(text)), noise))  # mostly as written


@FUZZ
@given(terms=st.lists(any_term, max_size=5))
def test_any_terms_are_accepted_or_refused_with_a_config_error(terms: list[str]) -> None:
    try:
        watchlist = trial_watchlist(tuple(terms))
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc), "one line, for the CLI"
        event("refused")
        return
    event("accepted")
    Matcher([watchlist])  # every accepted term compiles


@FUZZ
@given(
    text=watchlist_toml(), stem=st.one_of(st.just("busser"), st.sampled_from(("a-b_c", "_x", "source-y", "Æ")), noise)
)
def test_any_watchlist_file_loads_or_is_a_config_error(text: str, stem: str) -> None:
    try:
        watchlist = watchlist_from_text(text, Path("watchlists") / f"{stem}.toml")
    except ConfigError as exc:
        assert str(exc)
        event("refused")
        return
    event("loaded")
    Matcher([watchlist])


# Strategies are built once, at import: strategies made inside a draw are checked anew every
# time, which made generation the bulk of the run. Texts are drawn as skeletons, their pieces
# noise or the n-th term, and filled in with the terms of the example.
GAPS = (" ", "\n", "-", "**", " og ", "- og ", "")
Skeleton = list[tuple[str, str | int, bool]]
skeleton = st.lists(st.tuples(st.sampled_from(GAPS), st.one_of(noise, st.integers(0, 99)), st.booleans()), max_size=10)
sections_skeleton = st.lists(
    st.tuples(st.sampled_from(("Indstilling", "Beslutning i Byrådet", "Tekst")), skeleton), max_size=3
)
WatchlistSpec = tuple[list[str], list[str], list[str], list[str], bool, bool, list[str]]
watchlist_spec = st.tuples(
    valid_terms,
    valid_terms.map(lambda terms: terms[:2]),
    valid_terms.map(lambda terms: terms[:1]),
    st.lists(st.sampled_from(("Titel", "Beslutning", "Indstilling")), max_size=2),
    st.booleans(),
    st.booleans(),
    st.lists(st.sampled_from(("26/100", "26/ 100")), max_size=1),
)
ItemSpec = tuple[str, str | None, Skeleton, list[tuple[str, Skeleton]], list[tuple[str, Skeleton]] | None]
item_spec = st.tuples(
    st.sampled_from(("Økonomiudvalget", "")),
    st.sampled_from((None, "26/100", "26/ 100")),
    skeleton,
    sections_skeleton,
    st.none() | sections_skeleton,
)


def fill(pieces: Skeleton, terms: list[str]) -> str:
    """A text in which the terms' words stand among noise, markup and line breaks, in any case."""
    out = []
    for gap, piece, upper in pieces:
        if isinstance(piece, int):
            spoken = terms[piece % len(terms)].strip('"*=') if terms else "x"
            piece = spoken.upper() if upper else spoken
        out.append(gap + piece)
    return "".join(out)


def build(specs: list[WatchlistSpec], spec: ItemSpec) -> tuple[list[Watchlist], ItemText]:
    watchlists: list[Watchlist] = []
    every_term: list[str] = []
    for index, (terms, all_, exclude, sections, fold_aa, only_new_text, cases) in enumerate(specs):
        if terms or all_ or cases:
            every_term += terms + all_ + exclude
            watchlists.append(
                Watchlist(
                    slug=f"w{index}",
                    terms=tuple(terms),
                    all=tuple(all_),
                    exclude=tuple(exclude),
                    sections=tuple(sections),
                    fold_aa=fold_aa,
                    only_new_text=only_new_text,
                    cases=tuple(cases),
                )
            )
    committee, case_number, title, body, added = spec
    item = ItemText(
        kommune="Testrup",
        committee=committee,
        case_number=case_number,
        title=fill(title, every_term),
        sections=tuple((heading, fill(text, every_term)) for heading, text in body),
        added=None if added is None else tuple((heading, fill(text, every_term)) for heading, text in added),
    )
    return watchlists, item


@FUZZ
@given(specs=st.lists(watchlist_spec, min_size=1, max_size=3), spec=item_spec)
def test_matching_any_text_against_valid_terms_never_raises(specs: list[WatchlistSpec], spec: ItemSpec) -> None:
    watchlists, item = build(specs, spec)
    assume(watchlists)
    by_slug = {watchlist.slug: watchlist for watchlist in watchlists}
    results = Matcher(watchlists).match(item)
    event(f"{len(results)} watchlists matched")
    for result in results:
        watchlist = by_slug[result.slug]
        assert set(result.terms) <= set(watchlist.terms) | set(watchlist.all)
        snippet, last = result.snippet, 0
        for start, end in snippet.highlights:
            assert last <= start < end <= len(snippet.text), "highlights are in order, inside the snippet"
            last = end
        snippet.marked()


@FUZZ
@given(
    term=st.text(st.sampled_from(LETTERS), min_size=2, max_size=10),
    ending=st.text(st.sampled_from(LETTERS), max_size=6),
    before=noise,
    after=noise,
    upper=st.booleans(),
)
def test_a_plain_term_is_found_at_the_start_of_a_word_whatever_surrounds_it(
    term: str, ending: str, before: str, after: str, upper: bool
) -> None:
    spoken = (term + ending).upper() if upper else term + ending
    item = ItemText("Testrup", "Økonomiudvalget", None, "Punkt", (("Tekst", f"{before} {spoken} {after}"),))
    (result,) = Matcher([Watchlist(slug="w", terms=(term,))]).match(item)
    assert result.terms == (term,)
    assert result.snippet.highlights, "the hit is highlighted"
    start, end = result.snippet.highlights[0]
    assert fold(result.snippet.text[start:end]).startswith(term)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_the_samples_the_mutations_start_from_parse(path: Path) -> None:
    check_meeting(parse_minutes(extract_text(path.read_bytes(), path.name).text, path.name))
