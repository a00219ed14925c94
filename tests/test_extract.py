"""bot.parse.extract: bytes of one minutes document -> normalised, markdown-ish text.

Every document here is a real file written to tmp_path and read back; the PDFs are
real PDFs made with fpdf2 and read by pypdfium2.
"""

from __future__ import annotations

import codecs
import dataclasses
import html
import json
import random
import re
from pathlib import Path

import pytest
from fpdf import FPDF
from PIL import Image

from bot.errors import ExtractError, ParseError
from bot.parse.extract import ExtractedText, clean_text, decode_text, extract_text, html_to_text, inline_html_to_text
from bot.parse.parser import parse_minutes
from bot.parse.pdf import repair_pdf_text

from .conftest import CORPUS, FIRSTAGENDA
from .pdfmaker import make_pdf, unicode_font

DANISH = "Kære borgere i Ærø, Østerbro og Åbenrå: æøå ÆØÅ § ½ é"


def extract_file(tmp_path: Path, name: str, raw: bytes) -> ExtractedText:
    path = tmp_path / name
    path.write_bytes(raw)
    return extract_text(path.read_bytes(), path.name)


def extract_error(tmp_path: Path, name: str, raw: bytes) -> str:
    with pytest.raises(ExtractError) as caught:
        extract_file(tmp_path, name, raw)
    return str(caught.value)


# --- encodings ------------------------------------------------------------------


def test_utf8_text_is_read_as_utf8(tmp_path: Path) -> None:
    result = extract_file(tmp_path, "referat.txt", f"{DANISH}\n“Citat” – slut\n".encode())
    assert result == ExtractedText(f"{DANISH}\n“Citat” – slut\n", "text", "utf-8")


def test_utf8_with_bom_drops_the_bom(tmp_path: Path) -> None:
    result = extract_file(tmp_path, "referat.txt", codecs.BOM_UTF8 + DANISH.encode())
    assert (result.text, result.encoding) == (DANISH, "utf-8-sig")


@pytest.mark.parametrize(
    "raw",
    [
        DANISH.encode("utf-16"),
        codecs.BOM_UTF16_LE + DANISH.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + DANISH.encode("utf-16-be"),
    ],
    ids=["native", "little-endian", "big-endian"],
)
def test_utf16_with_bom(tmp_path: Path, raw: bytes) -> None:
    result = extract_file(tmp_path, "referat.txt", raw)
    assert (result.text, result.format, result.encoding) == (DANISH, "text", "utf-16")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_recognised_by_its_nul_bytes(tmp_path: Path, codec: str) -> None:
    result = extract_file(tmp_path, "referat.txt", f"Referat\r\n{DANISH}\r\n".encode(codec))
    assert (result.text, result.encoding) == (f"Referat\n{DANISH}\n", codec)


def test_windows_1252_with_danish_letters_quotes_and_dash(tmp_path: Path) -> None:
    text = f"{DANISH}\r\nSagen “Ældrepleje” – godkendt…\r\n"
    result = extract_file(tmp_path, "referat.txt", text.encode("cp1252"))
    assert result == ExtractedText(text.replace("\r\n", "\n"), "text", "cp1252")


def test_latin1_file_reads_correctly_as_windows_1252_its_printable_superset(tmp_path: Path) -> None:
    result = extract_file(tmp_path, "referat.txt", DANISH.encode("latin-1"))
    assert (result.text, result.encoding) == (DANISH, "cp1252")


def test_bytes_undefined_in_windows_1252_fall_back_to_latin1(tmp_path: Path) -> None:
    raw = (DANISH * 3).encode("latin-1") + b"\x9d"  # 0x9D has no Windows-1252 character
    result = extract_file(tmp_path, "referat.txt", raw)
    assert (result.text, result.encoding) == (DANISH * 3 + "\x9d", "latin-1")


def test_decode_text_is_usable_on_its_own() -> None:
    assert decode_text("Åben dagsorden".encode("cp1252"), "x.txt") == ("Åben dagsorden", "cp1252")


def test_text_is_nfc_but_not_nfkc(tmp_path: Path) -> None:
    # NFKC would turn m² into m2 and the ﬁ ligature into fi: only PDF text gets that
    result = extract_file(tmp_path, "referat.txt", "A\u030arhus: 120 m² ﬁnans".encode())
    assert result.text == "Århus: 120 m² ﬁnans"


def test_control_characters_are_removed_from_text_files(tmp_path: Path) -> None:
    result = extract_file(tmp_path, "referat.txt", "Punkt\x07 1\x1b\tGodkendt\r\nSlut\rNu".encode())
    assert result.text == "Punkt 1\tGodkendt\nSlut\nNu"


# --- what the content is, whatever the name says ---------------------------------------


def test_markdown_in_a_txt_file_stays_text_untouched(tmp_path: Path) -> None:
    markdown = "# Referat\n\n**Mødedato** 29. maj\n\n## Punkt 1: Budget\n\n- første\n- anden\n\n| a | b |\n"
    result = extract_file(tmp_path, "referat.txt", markdown.encode())
    assert (result.text, result.format) == (markdown, "text")


def test_markdown_opening_with_an_html_tag_stays_text(tmp_path: Path) -> None:
    markdown = '<div align="center">\n\n# Referat\n\nTekst her.\n\nMere tekst.\n\n- punkt\n'
    assert extract_file(tmp_path, "referat.md", markdown.encode()).format == "text"


def test_text_starting_with_angle_brackets_that_are_not_tags_stays_text(tmp_path: Path) -> None:
    assert extract_file(tmp_path, "a.txt", b"<Bilag 1> se vedlagt\nTekst\n").format == "text"


def test_text_in_a_file_named_pdf_is_text(tmp_path: Path) -> None:
    result = extract_file(tmp_path, "referat.pdf", "Referat\nØkonomiudvalget\n".encode())
    assert (result.text, result.format) == ("Referat\nØkonomiudvalget\n", "text")


def test_pdf_in_a_file_named_txt_is_pdf(tmp_path: Path) -> None:
    raw = make_pdf(tmp_path / "x.pdf", ["Referat"]).read_bytes()
    assert extract_file(tmp_path, "referat.txt", raw).format == "pdf"


@pytest.mark.parametrize(
    "document",
    [
        "<!DOCTYPE html><html><body><p>Godkendt</p></body></html>",
        "\n  <html><p>Godkendt</p></html>",
        "<?xml version='1.0' encoding='utf-8'?>\n<!-- eksport -->\n<html><p>Godkendt</p></html>",
        "<p>Godkendt</p>",
        "<div>\n<p>\nGodkendt\n</p>\n</div>\n",
    ],
    ids=["doctype", "html-tag", "xml-declaration-and-comment", "fragment", "pretty-printed"],
)
def test_html_is_recognised_by_content_in_a_txt_file(tmp_path: Path, document: str) -> None:
    result = extract_file(tmp_path, "referat.txt", document.encode())
    assert (result.text, result.format, result.encoding) == ("Godkendt", "html", "utf-8")


# --- HTML files and their charset declarations ------------------------------------------

CP1252_PAGE = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    "<title>Referat</title></head><body><h1>Referat – Økonomiudvalget</h1>"
    "<p>Mødet blev holdt i “Rådhuset”.</p></body></html>"
)


def test_windows_1252_html_with_meta_charset(tmp_path: Path) -> None:
    result = extract_file(tmp_path, "referat.htm", CP1252_PAGE.encode("cp1252"))
    assert result == ExtractedText("# Referat – Økonomiudvalget\n\nMødet blev holdt i “Rådhuset”.", "html", "cp1252")


def test_meta_charset_is_honoured_over_the_windows_1252_guess(tmp_path: Path) -> None:
    # in ISO-8859-15, 0xA4 is the euro sign; Windows-1252 would read it as ¤
    page = '<html><head><meta charset="iso-8859-15"></head><body><p>Pris: 100 €</p></body></html>'
    result = extract_file(tmp_path, "referat.html", page.encode("iso-8859-15"))
    assert (result.text, result.encoding) == ("Pris: 100 €", "iso8859-15")


def test_meta_charset_that_does_not_fit_the_bytes_is_ignored(tmp_path: Path) -> None:
    page = CP1252_PAGE.replace("windows-1252", "utf-8")
    result = extract_file(tmp_path, "referat.html", page.encode("cp1252"))
    assert result.encoding == "cp1252" and "“Rådhuset”" in result.text


def test_valid_utf8_wins_over_a_stale_meta_charset(tmp_path: Path) -> None:
    result = extract_file(tmp_path, "referat.html", CP1252_PAGE.encode())
    assert result.encoding == "utf-8" and "Mødet blev holdt i “Rådhuset”." in result.text


def test_html_without_any_text_is_an_error(tmp_path: Path) -> None:
    raw = b'<html><body><img src="data:image/png;base64,iVBORw0KGgo="></body></html>'
    assert extract_error(tmp_path, "tom.html", raw) == "tom.html: HTML without any text"


# --- files that are not documents -----------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"", b"  \r\n\t \n", codecs.BOM_UTF8, "  \n".encode("utf-16")],
    ids=["zero-bytes", "whitespace", "utf-8-bom-only", "utf-16-whitespace"],
)
def test_empty_file(tmp_path: Path, raw: bytes) -> None:
    assert extract_error(tmp_path, "tom.txt", raw) == "tom.txt: empty file"


def test_png_image_is_a_binary_file(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8), "red").save(tmp_path / "logo.png")
    raw = (tmp_path / "logo.png").read_bytes()
    assert extract_error(tmp_path, "referat.txt", raw) == "referat.txt: binary file, not text, HTML or PDF"


def test_random_bytes_with_nuls_are_a_binary_file(tmp_path: Path) -> None:
    raw = random.Random(7).randbytes(4000) + b"\x00\x00"
    assert extract_error(tmp_path, "x.txt", raw) == "x.txt: binary file, not text, HTML or PDF"


def test_bytes_without_nuls_that_are_no_known_text_encoding(tmp_path: Path) -> None:
    raw = bytes(range(1, 256)) * 4  # control characters: not text in any single-byte codec
    message = extract_error(tmp_path, "x.txt", raw)
    assert message == "x.txt: unknown text encoding (not UTF-8, UTF-16 or Windows-1252)"


def test_invalid_utf8_after_a_utf8_bom_is_an_error(tmp_path: Path) -> None:
    assert "invalid utf-8-sig" in extract_error(tmp_path, "x.txt", codecs.BOM_UTF8 + b"K\xe6re \xff")


def test_extract_error_is_a_parse_error() -> None:
    assert issubclass(ExtractError, ParseError)


def test_extracted_text_is_immutable() -> None:
    result = ExtractedText("a", "text", "utf-8")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.text = "b"  # type: ignore[misc]


# --- PDF --------------------------------------------------------------------------


def test_pdf_with_danish_text(tmp_path: Path) -> None:
    lines = ["Referat af mødet i Økonomiudvalget", "Æbler, øl og ål på Ærø", "Beslutning: Godkendt."]
    if unicode_font():
        lines.append("Sagen “Ældrepleje” – godkendt")
    result = extract_file(tmp_path, "referat.pdf", make_pdf(tmp_path / "r.pdf", lines).read_bytes())
    assert result == ExtractedText("\n".join(lines), "pdf", None)


def test_pdf_pages_are_joined_by_a_blank_line(tmp_path: Path) -> None:
    lines = [f"Linje {number} om økonomi" for number in range(1, 121)]  # about three A4 pages
    result = extract_file(tmp_path, "referat.pdf", make_pdf(tmp_path / "r.pdf", lines).read_bytes())
    assert [line for line in result.text.split("\n") if line] == lines
    assert result.text.count("\n\n") >= 2 and "\n\n\n" not in result.text


def test_pdf_hyphenation_is_repaired_end_to_end(tmp_path: Path) -> None:
    lines = [
        "Der er fokus på beskæf-",
        "tigelse i kommunen.",
        "Sagen går til Beskæftigelses-",
        "og Integrationsudvalget.",
        "Høring af EU-",
        "Borgere og andre.",
    ]
    result = extract_file(tmp_path, "referat.pdf", make_pdf(tmp_path / "r.pdf", lines).read_bytes())
    assert result.text == (
        "Der er fokus på beskæftigelse i kommunen.\n"
        "Sagen går til Beskæftigelses- og Integrationsudvalget.\n"
        "Høring af EU-\nBorgere og andre."
    )
    assert "\ufffe" not in result.text


def test_truncated_pdf(tmp_path: Path) -> None:
    raw = make_pdf(tmp_path / "r.pdf", ["Referat", "Godkendt"]).read_bytes()
    message = extract_error(tmp_path, "referat.pdf", raw[: len(raw) // 2])
    assert message.startswith("referat.pdf: damaged or truncated PDF (")


def test_pdf_missing_only_its_end_is_still_truncated(tmp_path: Path) -> None:
    # pdfium would rebuild this one and read it, hiding that the download was cut short
    raw = make_pdf(tmp_path / "r.pdf", ["Referat", "Godkendt"]).read_bytes()
    message = extract_error(tmp_path, "referat.pdf", raw[:-12])
    assert message == "referat.pdf: damaged or truncated PDF (no %%EOF end marker)"


def test_garbage_after_a_pdf_header_is_a_damaged_pdf(tmp_path: Path) -> None:
    message = extract_error(tmp_path, "referat.pdf", b"  %PDF-1.7\nnot really a pdf\n%%EOF\n")
    assert message.startswith("referat.pdf: damaged or truncated PDF (")


def test_pdf_with_only_a_scanned_image_has_no_text_layer(tmp_path: Path) -> None:
    Image.new("L", (200, 100), 200).save(tmp_path / "scan.png")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(tmp_path / "scan.png"), x=10, y=10, w=150)
    pdf.output(str(tmp_path / "scan.pdf"))
    message = extract_error(tmp_path, "scan.pdf", (tmp_path / "scan.pdf").read_bytes())
    # with tesseract installed the page is tried and found empty; without, the reason is named
    assert message.startswith("scan.pdf: PDF has no text layer (scanned image?); page 1 is a scanned image")


@pytest.mark.parametrize(
    ("pdf_text", "repaired"),
    [
        ("beskæf-\ntigelse", "beskæftigelse"),
        ("Beskæftigelses-\nog Integrationsudvalget", "Beskæftigelses- og Integrationsudvalget"),
        ("Social-\neller Sundhedsudvalget", "Social- eller Sundhedsudvalget"),
        ("Kultur-\nsamt Fritidsudvalget", "Kultur- samt Fritidsudvalget"),
        ("EU-\nborgere", "EU-borgere"),
        ("2-\nårig", "2-årig"),
        ("åbent mandag-\ntorsdag", "åbent mandag-torsdag"),
        ("januar-\nmarts", "januar-marts"),
        ("EU-\nBorgere", "EU-\nBorgere"),
        ("Punkt 1 -\nbeslutning", "Punkt 1 -\nbeslutning"),
        ("- punkt\n- andet", "- punkt\n- andet"),
        ("beskæf\ufffetigelse", "beskæftigelse"),
        ("beskæf\ufffe\r\ntigelse", "beskæftigelse"),
        ("Beskæftigelses\ufffeog Integrationsudvalget", "Beskæftigelses- og Integrationsudvalget"),
        ("EU\ufffeBorgere", "EU-\nBorgere"),
        ("ﬁnansiering, ﬂyt, ﬀ ﬃ ﬄ", "finansiering, flyt, ff ffi ffl"),
        ("2½ år på 120 m²", "2½ år på 120 m²"),
        ("Arbejds\u00admarked", "Arbejdsmarked"),
        ("beskæf\u00ad\ntigelse", "beskæftigelse"),
        ("linje  \t\r\nnæste   \r\n", "linje\nnæste\n"),
    ],
)
def test_repair_pdf_text(pdf_text: str, repaired: str) -> None:
    assert repair_pdf_text(pdf_text) == repaired


# --- clean_text ---------------------------------------------------------------------


def test_clean_text_removes_what_xml_forbids_and_keeps_the_rest() -> None:
    dirty = "a\x00b\x01c\x08d\x1fe\ufffef\uffffg\ud800h\tI\n😀 m²"
    assert clean_text(dirty) == "abcdefgh\tI\n😀 m²"


def test_clean_text_normalises_line_ends_and_nfc() -> None:
    assert clean_text("a\r\nb\rc\nA\u030a") == "a\nb\nc\nÅ"


def test_clean_text_turns_vertical_tab_and_form_feed_into_line_breaks() -> None:
    # Word's manual line break and a page break both end a line; deleting them would glue words
    assert clean_text("Side 1\x0cSide 2\x0bny linje") == "Side 1\nSide 2\nny linje"


# --- size ---------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-8", "cp1252"])
def test_five_megabyte_single_line(tmp_path: Path, codec: str) -> None:
    line = ("Beskæftigelse og økonomi i kommunen – " * 140_000)[:5_000_000]
    result = extract_file(tmp_path, "stor.txt", line.encode(codec))
    assert (result.text, result.format, result.encoding) == (line, "text", codec)


# --- HTML to text -------------------------------------------------------------------


def test_headings_become_hash_lines() -> None:
    page = "".join(f"<h{level}>Niveau  {level}</h{level}>" for level in range(1, 7))
    assert html_to_text(page) == "\n\n".join(f"{'#' * level} Niveau {level}" for level in range(1, 7))


def test_paragraphs_and_divs_are_separated_by_one_blank_line() -> None:
    page = "<p>Første</p><p> </p><p>&nbsp;</p><div><div>Anden</div></div><div></div>\n\n<p>Tredje</p>"
    assert html_to_text(page) == "Første\n\nAnden\n\nTredje"


def test_br_is_a_line_break_inside_a_block() -> None:
    assert html_to_text("<p>For: A<br>Imod: B<br/>\nUndlod: C</p>") == "For: A\nImod: B\nUndlod: C"


def test_whitespace_inside_a_block_collapses() -> None:
    assert html_to_text("<p>  Kommunal\n\n  bestyrelsen \t godkender\xa0 sagen </p>") == (
        "Kommunal bestyrelsen godkender sagen"
    )


def test_inline_elements_join_without_adding_spaces() -> None:
    assert html_to_text("<p>Be<span>slut</span><a href='#'>ning</a>: <em>godkendt</em></p>") == "Beslutning: godkendt"


def test_lists() -> None:
    page = (
        "<ul><li>æbler</li><li><p>pærer</p></li></ul>"
        "<ol><li>en</li><li>to</li></ol><ol start='3'><li>tre</li></ol>"
        "<ol type='a' start='2'><li>at godkende bevilling</li><li>at tage til efterretning</li></ol>"
    )
    assert html_to_text(page) == (
        "- æbler\n- pærer\n\n1. en\n2. to\n\n3. tre\n\nb. at godkende bevilling\nc. at tage til efterretning"
    )


def test_nested_lists_flatten_to_item_lines() -> None:
    assert html_to_text("<ul><li>Budget<ul><li>drift</li><li>anlæg</li></ul></li></ul>") == (
        "- Budget\n- drift\n- anlæg"
    )


def test_tables_become_tab_separated_rows() -> None:
    page = (
        "<table><thead><tr><th>I mio. kr.</th><th>2026</th></tr></thead>"
        "<tbody><tr><td><p>Drift</p></td><td>8,02</td></tr><tr><td> </td><td></td></tr>"
        "<tr><td></td><td>1,00</td></tr></tbody></table><p>Efter</p>"
    )
    assert html_to_text(page) == "I mio. kr.\t2026\nDrift\t8,02\n\t1,00\n\nEfter"


def test_scripts_styles_head_images_and_svg_vanish() -> None:
    page = (
        "<html><head><title>Titel</title><style>p {color: red}</style></head><body>"
        "<script>alert('x')</script><p>Tekst<img src='data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=='>"
        " her</p><svg><text>100</text></svg><noscript>Slå JavaScript til</noscript></body></html>"
    )
    assert html_to_text(page) == "Tekst her"


def test_entities_are_decoded() -> None:
    assert html_to_text("<p>A &amp; B &lt;3&gt; &aelig;&oslash;&aring; &#8211; &#x201C;ok&#x201D;</p>") == (
        "A & B <3> æøå – “ok”"
    )


@pytest.mark.parametrize(
    ("page", "text"),
    [
        ("<p><strong>Beslutning</strong></p>", "**Beslutning**"),
        ("<p><span><b> Sagsfremstilling </b></span>&nbsp;</p>", "**Sagsfremstilling**"),
        ("<p><b>Økonomi</b> <strong>og</strong> <b>finansiering</b></p>", "**Økonomi og finansiering**"),
        ("<div><b>Retsgrundlag</b></div>", "**Retsgrundlag**"),
        ("<p><b>Høring<br>og</b><b>svar</b></p>", "**Høring**\n**ogsvar**"),
        ("<p><b>Indstilling</b> til udvalget</p>", "Indstilling til udvalget"),
        ("<p>Sagen er <strong>godkendt</strong> i dag</p>", "Sagen er godkendt i dag"),
    ],
)
def test_only_a_fully_bold_paragraph_keeps_its_bold(page: str, text: str) -> None:
    assert html_to_text(page) == text


def test_broken_html_is_read_anyway() -> None:
    assert html_to_text("<p>første<p>anden<div>tredje <b>fed</i> </span>slut") == "første\n\nanden\n\ntredje fed slut"


def test_word_processor_markup() -> None:
    page = (
        "<div class=WordSection1><p class=MsoNormal><span style='font-size:11pt'><span lang=DA>"
        "Direktøren</span> <span>indstiller</span></span><o:p></o:p></p>"
        "<p class=MsoNormal><o:p>&nbsp;</o:p></p>"
        "<p class=MsoListParagraph>1.<span style='font:7pt'>&nbsp;&nbsp; </span>at godkende</p></div>"
    )
    assert html_to_text(page) == "Direktøren indstiller\n\n1. at godkende"


def test_deeply_nested_unclosed_tags_are_read_whole() -> None:
    # broken HTML nests every unclosed <div>/<span> in the previous one: 1800 levels here
    assert html_to_text("<div><span>ord " * 900) == "\n\n".join(["ord"] * 900)


def test_html_nested_past_the_parser_limit_fails_loudly_instead_of_losing_text(tmp_path: Path) -> None:
    message = extract_error(tmp_path, "referat.html", b"<p>" + b"<font>ord<br>" * 3000)
    assert message.startswith("referat.html: HTML parser gave up, text would be lost (")


def test_html_to_text_of_nothing_is_empty() -> None:
    assert html_to_text("") == html_to_text("  \n") == html_to_text("<!-- kun en kommentar -->") == ""


def test_html_string_with_an_encoding_declaration() -> None:
    # lxml refuses str input that declares an encoding; the declaration is meaningless here
    assert html_to_text('<?xml version="1.0" encoding="windows-1252"?><p>Ærø</p>') == "Ærø"


def test_html_to_text_removes_characters_xml_forbids() -> None:
    assert html_to_text("<p>a\x01b\ufffe\ufdd0c</p>") == "abc"


def test_firstagenda_field_shape() -> None:
    field = (
        "<div><div id='sagsfremstillingContainer'>\r\n<h3>Beslutningstema</h3>\r\n<span class='x'>"
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>Dagsordenspunkt</title>'
        "<div><p><span>Sagen handler om </span><span>budget.</span></p><p><span> </span></p></div></span>"
        "\r\n<h3>Indstilling</h3>\r\n<span><div><ol type='1'><li><span>at godkende</span></li></ol></div>"
        "</span></div></div>"
    )
    assert html_to_text(field) == "### Beslutningstema\n\nSagen handler om budget.\n\n### Indstilling\n\n1. at godkende"


def firstagenda_fields() -> list[str]:
    agenda = FIRSTAGENDA / "agenda.json"  # ../shared, next to the repository
    if not agenda.is_file():
        pytest.skip(f"{agenda} is not available")
    items = json.loads(agenda.read_text(encoding="utf-8"))["Dagsordenpunkter"]
    return [field["Html"] for item in items for field in item["Felter"] if "<h3>" in (field["Html"] or "")]


def test_firstagenda_agenda_items_become_markdown_ish_text() -> None:
    fields = firstagenda_fields()
    assert fields
    for field in fields:
        text = html_to_text(field)
        raw_headings = re.findall(r"<h3>(.*?)</h3>", field, re.S)
        headings = [" ".join(html.unescape(re.sub(r"<[^>]*>", "", h)).split()) for h in raw_headings]
        assert [line[4:] for line in text.split("\n") if line.startswith("### ")] == headings
        assert not re.search(r"</?[a-zA-Z][a-zA-Z0-9:]*(?:\s[^>]*)?/?>", text), "a tag survived"
        assert not re.search(r"&(?:[a-zA-Z]+|#[0-9]+|#x[0-9a-fA-F]+);", text), "an entity survived"
        assert "base64" not in text and "Dagsordenspunkt" not in text.split("\n")
        assert not re.search("[\ufdd0-\ufdd2]", text) and "\n\n\n" not in text


def test_firstagenda_decision_heading_and_lettered_list() -> None:
    fields = firstagenda_fields()
    text = next(html_to_text(field) for field in fields if "Outdoor Park" in field)
    assert "### Beslutning i Kultur- og Fritidsudvalget den 07-04-2026" in text.split("\n")
    assert "b. at godkende bevilling på 1 mio. kr. fra Slots og -Kulturstyrelsen jf. Finansloven 2026." in text


# --- inline HTML in text and markdown ---------------------------------------------


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("<b>I alt</b>\t<b>1.011,6</b>\t<b>19,6</b>", "I alt\t1.011,6\t19,6"),
        ("KKR Hovedstaden<sup>[1]</sup> årligt", "KKR Hovedstaden[1] årligt"),
        ("<i>Bemærk:</i> <span style='color:red'>rødt</span> og <u>understreget</u>", "Bemærk: rødt og understreget"),
        ('Tekst <ul style="margin-left:0"><li>en</li><li>to</li></ul> slut', "Tekst\n\n- en\n- to\n\nslut"),
        ('<ol type="a"><li>første</li><li>anden</li></ol>', "a. første\nb. anden"),
        ("første<br>anden<br/><br>tredje", "første\nanden\n\ntredje"),
        ("Vej &amp; Park &#8211; &quot;nu&quot;&nbsp;her", 'Vej & Park – "nu"\xa0her'),
        ("## <strong>Indstilling</strong>", "## Indstilling"),
        ("<h3>Sagsfremstilling</h3>", "### Sagsfremstilling"),
        ('<ul style="margin:0">', ""),
        ("<b>åben tag uden slut", "åben tag uden slut"),
        ("<b>fed</b> og <Bilag 1> og <5 år og <https://kk.dk>", "fed og <Bilag 1> og <5 år og <https://kk.dk>"),
        ("<Bilag 1> og R&D og a < b", "<Bilag 1> og R&D og a < b"),
        ("<b>skjult</b>&#x202E;tekst", "skjulttekst"),
    ],
)
def test_inline_html_in_a_line_is_rendered_as_text(line: str, text: str) -> None:
    assert inline_html_to_text(line) == text


def test_inline_html_in_markdown_minutes_never_reaches_the_text(tmp_path: Path) -> None:
    markdown = (
        "## Sagsfremstilling\n\nSe note<sup>[1]</sup>.\n\n"
        '<ul style="list-style-type:disc">\n<li>en</li>\n<li><b>to</b></li>\n</ul>\n\n'
        "<sup>[1]</sup>Noten.\n"
    )
    result = extract_file(tmp_path, "referat.md", markdown.encode())
    assert result.format == "text"
    assert result.text == "## Sagsfremstilling\n\nSe note[1].\n\n\n- en\n- to\n\n\n[1]Noten.\n"


def test_text_without_tags_or_entities_is_left_alone() -> None:
    text = "# Referat\n\n<Bilag 1> og 3 < 5, R&D\n\n- punkt\n" * 1000
    assert inline_html_to_text(text) == text


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*")) or ["(no corpus)"])
def test_corpus_minutes_read_without_raw_tags_and_parse_as_before(name: str) -> None:
    if not (CORPUS / name).exists():
        pytest.skip("../shared/corpus is not available")
    raw = (CORPUS / name).read_bytes()
    text = extract_text(raw, name).text
    assert not re.search(r"</?(?:b|sup|ul|li|span|i)\b", text)
    read, direct = parse_minutes(text, name), parse_minutes(raw.decode(), name)
    assert [(i.number, i.title, [s.heading for s in i.sections], i.decision) for i in read.items] == [
        (i.number, i.title, [s.heading for s in i.sections], i.decision) for i in direct.items
    ]
