"""PDF minutes as kommuner make them read like the text they were made from.

Every corpus minutes file becomes a word processor document exported to PDF by LibreOffice
(tests/office.py: Danish hyphenation, running header and footer, bold headings, tables,
lists) in several variants; its extracted text must parse to the same meeting, items, case
numbers, closed flags, decisions and section headings as the text itself, without page
furniture or split words. Then edge cases drawn with fpdf2: scanned pages, a heading with
its text on the same line, a wrapped heading, prose that starts like a heading, real hyphens.
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from bot.parse.extract import extract_text
from bot.parse.minutes import ParsedMeeting, collapse
from bot.parse.parser import parse_minutes
from bot.parse.pdf import read_pdf

from .conftest import CORPUS
from .helpers import json_lines, run_cli, write_config
from .office import ConversionError, OfficeFactory, OfficePdf, office_available
from .pdfmaker import Run, make_pdf, make_runs_pdf, make_scanned_pdf

NAMES = sorted(p.name for p in CORPUS.iterdir()) if CORPUS.is_dir() else []
COMPARED = ("plain", "docx", "two_column", "closed_last_page")  # `correction` has its own test
CASES = [(name, variant) for name in NAMES for variant in COMPARED] or [("(no corpus)", "plain")]


@pytest.fixture(scope="session")
def office(tmp_path_factory: pytest.TempPathFactory) -> OfficeFactory:
    """Every corpus file in every variant, converted once per test session."""
    soffice = office_available()
    if soffice is None:
        pytest.skip("LibreOffice is not installed (no soffice on PATH; Debian: libreoffice-writer)")
    if not NAMES:
        pytest.skip("../shared/corpus is not available")
    return OfficeFactory(CORPUS, tmp_path_factory.mktemp("office"), soffice)


def _made(office: OfficeFactory, name: str, variant: str) -> OfficePdf:
    try:
        return office.pdf(name, variant)
    except ConversionError as exc:
        pytest.fail(str(exc))


_EXTRACTED: dict[Path, str] = {}


def _text(made: OfficePdf) -> str:
    if made.pdf not in _EXTRACTED:
        _EXTRACTED[made.pdf] = extract_text(made.pdf.read_bytes(), made.pdf.name).text
    return _EXTRACTED[made.pdf]


def _both(made: OfficePdf) -> tuple[ParsedMeeting, ParsedMeeting]:
    """The meeting parsed from the PDF, and from the text the PDF was made from."""
    return parse_minutes(_text(made), made.pdf.name), parse_minutes(made.source, made.name)


# --- the factory makes what kommuner publish ----------------------------------------------------


def _raw_pages(pdf: Path) -> list[str]:
    with pdfium.PdfDocument(pdf) as document:
        return [str(document[index].get_textpage().get_text_range()) for index in range(len(document))]


@pytest.mark.parametrize("variant", ["plain", "docx", "two_column", "closed_last_page", "correction"])
@pytest.mark.parametrize("name", NAMES or ["(no corpus)"])
def test_the_documents_are_typeset_as_a_word_processor_does(office: OfficeFactory, name: str, variant: str) -> None:
    made = _made(office, name, variant)
    pages = [collapse(page) for page in _raw_pages(made.pdf)]
    # pdfium marks a hyphen that hyphenation put at a line end with U+FFFE
    assert sum(page.count("\ufffe") for page in pages) >= 50, "no Danish hyphenation: is hyphen-da installed?"
    assert all(f"Side {n} af {len(pages)}" in page for n, page in enumerate(pages, 1))
    assert all(made.header in page and made.footer in page for page in pages)
    assert b"Bold" in made.pdf.read_bytes()  # headings in a bold font, e.g. /BaseFont /…+DejaVuSans-Bold
    assert not re.search(r"\*\*|</?(?:b|sup)>|(?:^|\n)#", "\n".join(_raw_pages(made.pdf)))  # markup is not printed


# --- the same minutes as the text ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_the_pdf_names_the_same_meeting(office: OfficeFactory, name: str, variant: str) -> None:
    pdf, text = _both(_made(office, name, variant))
    assert (pdf.kind, pdf.committee, pdf.date) == (text.kind, text.committee, text.date)


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_the_pdf_has_the_same_items(office: OfficeFactory, name: str, variant: str) -> None:
    pdf, text = _both(_made(office, name, variant))

    def items(meeting: ParsedMeeting) -> list[tuple[object, ...]]:
        return [(i.number, i.title, i.case_number, i.closed) for i in meeting.items]

    assert items(pdf) == items(text)


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_the_pdf_has_the_same_decisions(office: OfficeFactory, name: str, variant: str) -> None:
    pdf, text = _both(_made(office, name, variant))

    def decisions(meeting: ParsedMeeting) -> list[tuple[int | None, str | None]]:
        return [(i.number, collapse(i.decision) if i.decision else None) for i in meeting.items]

    assert decisions(pdf) == decisions(text)


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_the_pdf_has_the_same_section_headings(office: OfficeFactory, name: str, variant: str) -> None:
    pdf, text = _both(_made(office, name, variant))

    def headings(meeting: ParsedMeeting) -> list[tuple[int | None, list[str]]]:
        return [(i.number, [s.heading for s in i.sections]) for i in meeting.items]

    assert headings(pdf) == headings(text)


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_no_page_header_or_footer_is_left_in_the_text(office: OfficeFactory, name: str, variant: str) -> None:
    made = _made(office, name, variant)
    text = _text(made)
    assert not re.findall(r".{0,40}Side \d+ af \d+.{0,40}", text)
    assert made.footer not in collapse(text)
    assert made.header not in [line.strip(" *") for line in text.splitlines()]


_EDGE = "\"'“”„‘’«»()[]{}.,:;!?*•–—-/…%§#|<>_\\"


def _words(text: str) -> set[str]:
    text = re.sub(r"<[^>]*>|\*\*", "", text)  # inline HTML and bold markup are not printed
    return {word.strip(_EDGE) for word in text.split()} - {""}


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_no_word_is_split_or_glued(office: OfficeFactory, name: str, variant: str) -> None:
    """Hyphenated line ends are rejoined ("kon-⏎tanthjælp"), real hyphens kept ("Social- og",
    "EU-borgere"): every word of the PDF's text is a word of the text it was made from."""
    made = _made(office, name, variant)
    unknown = sorted(_words(_text(made)) - _words(made.source))
    assert not unknown, f"{len(unknown)} words not in the source text: {unknown[:40]}"


# --- a correction that moves every later page break -----------------------------------------------


def _page_openings(pdf: Path) -> list[str]:
    """The first line under the running header on each page."""
    return [(page.splitlines()[1:2] or [""])[0] for page in _raw_pages(pdf)]


@pytest.mark.parametrize("name", NAMES or ["(no corpus)"])
def test_a_correction_that_moves_page_breaks_changes_only_its_item(
    office: OfficeFactory, tmp_path: Path, name: str
) -> None:
    original, corrected = _made(office, name, "plain"), _made(office, name, "correction")
    assert _page_openings(original.pdf) != _page_openings(corrected.pdf), "the correction moved no page break"
    config = write_config(tmp_path)
    published = tmp_path / "minutes" / "referat.pdf"
    shutil.copyfile(original.pdf, published)
    assert run_cli(config, "ingest").exit_code == 0
    assert len(json_lines(config, "items")) == len(parse_minutes(original.source, name).items)
    before = len(json_lines(config, "events"))
    shutil.copyfile(corrected.pdf, published)
    assert run_cli(config, "ingest").exit_code == 0
    events = json_lines(config, "events")[before:]
    assert [(event["kind"], event["number"]) for event in events] == [("changed", corrected.edited_item)]


# --- edge cases drawn with fpdf2 ------------------------------------------------------------------

_TITLE: list[list[Run]] = [
    [("REFERAT Social- og Arbejdsmarkedsudvalget d. 06-01-2025", True)],
    [("Mødested", True), (" Rådhuset, mødelokale 2", False)],
]


def _parsed(pdf: Path) -> ParsedMeeting:
    return parse_minutes(extract_text(pdf.read_bytes(), pdf.name).text, pdf.name)


def test_a_heading_followed_by_its_text_on_the_same_line_opens_its_section(tmp_path: Path) -> None:
    pdf = make_runs_pdf(
        tmp_path / "inline.pdf",
        [
            *_TITLE,
            [("Punkt 1: Godkendelse af dagsorden", True)],
            [("24/24124", False)],
            [("Beslutning:", True), (" Godkendt.", False)],
            [("Punkt 2: Meddelelser", True)],
            [("24/24125", False)],
            [
                ("Beslutning i Social- og Arbejdsmarkedsudvalget den 06-01-2025:", True),
                (" Taget til efterretning.", False),
            ],
        ],
    )
    meeting = _parsed(pdf)
    assert [(i.number, i.decision) for i in meeting.items] == [(1, "Godkendt."), (2, "Taget til efterretning.")]


def test_a_heading_wrapped_onto_two_lines_is_one_heading(tmp_path: Path) -> None:
    heading = "Beslutning i Byrådet den 06-01-2025"
    pdf = make_runs_pdf(
        tmp_path / "wrapped.pdf",
        [
            [("REFERAT Byrådet d. 06-01-2025", True)],
            [("Punkt 3: Status på IGU", True)],
            [("24/27021", False)],
            [(heading, True)],
            [("Taget til efterretning.", False)],
        ],
        font_size=12,
        width=85,  # a narrow column: the decision heading takes two lines, the others one
    )
    assert heading not in _raw_pages(pdf)[0].splitlines()
    (item,) = _parsed(pdf).items
    assert [(d.committee, d.date, d.text) for d in item.decisions] == [
        ("Byrådet", date(2025, 1, 6), "Taget til efterretning.")
    ]
    assert item.decision == "Taget til efterretning."


def test_a_prose_line_that_starts_like_a_decision_is_not_one(tmp_path: Path) -> None:
    pdf = make_runs_pdf(
        tmp_path / "prose.pdf",
        [
            *_TITLE,
            [("Punkt 4: Ny busplan", True)],
            [("24/30000", False)],
            [("Sagsfremstilling", True)],
            [("Forvaltningen har udarbejdet et forslag til ny busplan.", False)],
            [("Beslutning om busplanen træffes i Byrådet", False)],
            [("Indstilling", True)],
            [("At sagen oversendes til Byrådet.", False)],
        ],
    )
    (item,) = _parsed(pdf).items
    assert [s.heading for s in item.sections] == ["Sagsfremstilling", "Indstilling"]
    assert item.decisions == () and item.decision is None
    assert "Beslutning om busplanen træffes i Byrådet" in item.section_map()["Sagsfremstilling"]


def test_real_hyphens_at_line_ends_are_kept_and_hyphenation_is_undone(tmp_path: Path) -> None:
    # consecutive lines without a blank line between them are one paragraph
    pdf = make_pdf(
        tmp_path / "hyphens.pdf",
        [
            "# REFERAT Social- og Arbejdsmarkedsudvalget d. 06-01-2025",
            "",
            "# Punkt 5: Kontanthjælp til EU-borgere",
            "",
            "24/19544",
            "",
            "## Sagsfremstilling",
            "",
            "Sagen handler om Kontant-",
            "og uddannelseshjælp til EU-",
            "borgere efter COVID-",
            "19 og om det nye ydelses-",
            "system for unge.",
        ],
    )
    (item,) = _parsed(pdf).items
    assert collapse(item.section_map()["Sagsfremstilling"]) == (
        "Sagen handler om Kontant- og uddannelseshjælp til EU-borgere efter COVID-19 og om det nye ydelsessystem for unge."
    )


_SCANNED = ["Punkt 2: Ekstra bevilling til vejvedligeholdelse", "", "26/200", "", "Beslutning", "", "Godkendt."]
_TEXT_PAGE = [
    "# REFERAT Teknik- og Miljøudvalget d. 02-11-2026",
    "",
    "# Punkt 1: Godkendelse af dagsorden",
    "",
    "26/100",
]


# WORDING: the lead may align this with the reader's message; what matters is that a scanned
# page is reported by its page number, and the text pages are still read.
def test_a_scanned_page_is_reported_by_its_page_number(tmp_path: Path) -> None:
    pdf = make_scanned_pdf(tmp_path / "scan.pdf", _TEXT_PAGE, _SCANNED)
    read = read_pdf(pdf.read_bytes(), pdf.name)
    assert read.pages == 2
    assert "Godkendelse af dagsorden" in read.text
    assert "26/100" in read.text  # a case number alone on a line is not a page number
    assert any(re.search(r"\b(?:page|side) 2\b", warning, re.IGNORECASE) for warning in read.warnings), read.warnings


def _tesseract_reads_danish() -> bool:
    if shutil.which("tesseract") is None:
        return False
    return any(Path("/usr/share/tesseract-ocr").glob("*/tessdata/dan.traineddata"))


def test_a_scanned_page_is_read_by_ocr_when_tesseract_knows_danish(tmp_path: Path) -> None:
    if not _tesseract_reads_danish():
        pytest.skip("tesseract with Danish data is not installed (Debian: tesseract-ocr-dan)")
    pdf = make_scanned_pdf(tmp_path / "scan.pdf", _TEXT_PAGE, _SCANNED)
    text = extract_text(pdf.read_bytes(), pdf.name).text
    assert "vejvedligeholdelse" in text
    # an item on the scanned page is an item, although OCR cannot tell bold from regular
    meeting = parse_minutes(text, pdf.name)
    assert [(i.number, i.case_number) for i in meeting.items] == [(1, "26/100"), (2, "26/200")]
