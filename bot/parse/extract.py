"""Raw bytes of one minutes document -> normalised, markdown-ish text for the line parser.

The layout is sniffed from the content, never from the file name: portals and folders
mislabel files (a `.txt` holding HTML, a `.pdf` URL answering with text).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import lxml.html
from lxml import etree

from bot.errors import ExtractError
from bot.parse.pdf import read_pdf


@dataclass(frozen=True)
class ExtractedText:
    """The text of one document and how it was read."""

    text: str
    format: Literal["text", "html", "pdf"]
    encoding: str | None  # None for PDF: its text layer is Unicode already
    warnings: tuple[str, ...] = ()  # what could not be read well (a PDF's scanned pages)


def extract_text(raw: bytes, name: str) -> ExtractedText:
    """Turn a document's bytes into normalised text; `name` only labels errors."""
    if raw[:1024].lstrip().startswith(b"%PDF-"):
        pdf = read_pdf(raw, name)
        return ExtractedText(clean_text(pdf.text), "pdf", None, pdf.warnings)
    text, encoding = decode_text(raw, name)
    if not _looks_like_html(text):
        return ExtractedText(inline_html_to_text(clean_text(text)), "text", encoding)
    text, encoding = _honour_meta_charset(raw, text, encoding)
    try:
        body = html_to_text(text)
    except ExtractError as exc:
        raise ExtractError(f"{name}: {exc}") from exc
    if not body:
        raise ExtractError(f"{name}: HTML without any text")
    return ExtractedText(body, "html", encoding)


# --- encodings --------------------------------------------------------------
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_BAD_C0 = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")  # tab, LF, FF and CR occur in real text files
_C1 = re.compile(r"[\x7f-\x9f]")  # what latin-1 makes of bytes that are not text in Western files
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.I)


def decode_text(raw: bytes, name: str) -> tuple[str, str]:
    """Decode by evidence (BOM, NUL pattern, strict UTF-8), then Windows-1252/latin-1."""
    bom = next((codec for mark, codec in _BOMS if raw.startswith(mark)), None)
    if bom:
        candidates, error = [bom], f"invalid {bom} despite its byte-order mark"
    elif b"\x00" in raw:
        # A stray NUL in valid UTF-8 is dirt (removed by clean_text); many of them mean binary.
        stray = raw.count(0) * 1000 <= len(raw)
        candidates, error = (
            _utf16_by_nul_pattern(raw) or (["utf-8"] if stray else []),
            "binary file, not text, HTML or PDF",
        )
    else:
        candidates, error = ["utf-8", "cp1252", "latin-1"], "unknown text encoding (not UTF-8, UTF-16 or Windows-1252)"
    for codec in candidates:
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue  # cp1252 fails on its five undefined bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D)
        if codec in ("utf-8-sig", "utf-16", "utf-8") or _plausible(text):  # a BOM or strict UTF-8 is evidence
            if not text.strip():
                raise ExtractError(f"{name}: empty file")
            return text, codec
        break  # latin-1 would show the same control characters as cp1252
    raise ExtractError(f"{name}: {error}")


def _utf16_by_nul_pattern(raw: bytes) -> list[str]:
    # UTF-16 without a BOM still shows itself in Latin text: one byte of each pair is NUL.
    even, odd = raw[:4096:2], raw[1:4096:2]
    for codec, high, low in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if len(raw) % 2 == 0 and high.count(0) >= 0.9 * len(high) and low.count(0) <= 0.01 * len(low):
            return [codec]
    return []


def _plausible(text: str) -> bool:
    """Single-byte codecs decode any bytes; only the result tells text from binary."""
    return not _BAD_C0.search(text) and len(_C1.findall(text)) * 100 <= len(text)


def _honour_meta_charset(raw: bytes, text: str, encoding: str) -> tuple[str, str]:
    # Only a guessed single-byte codec gives way to <meta>: a BOM or valid UTF-8 is
    # stronger evidence than a charset copied along with a template.
    match = _META_CHARSET.search(raw, 0, 8192)
    if match is None or encoding not in ("cp1252", "latin-1"):
        return text, encoding
    try:
        codec = codecs.lookup(match.group(1).decode("ascii")).name
        decoded = raw.decode(codec)
    except (LookupError, UnicodeDecodeError):  # unknown label, not a text codec, or a false claim
        return text, encoding
    # Browsers read latin-1/ASCII labels as Windows-1252 (WHATWG), as detection already
    # did; a UTF-16/32 claim is false, since the <meta> itself was readable as ASCII.
    if codec in ("iso8859-1", "ascii") or codec.startswith(("utf-16", "utf-32")) or not _plausible(decoded):
        return text, encoding
    return decoded, codec


# --- sniffing HTML ----------------------------------------------------------
_LEADING_JUNK = re.compile(r"\s*(?:(?:<\?xml[^>]*>|<!--.*?-->)\s*)*", re.S)
_HTML_START = re.compile(r"<(?:!doctype\s+html|html)\b", re.I)
_HTML_TAG = re.compile(
    r"</?(?:p|h[1-6]|div|body|br|span|li|[ou]l|table|t[rdh]|b|strong|em|i|u|a|img|head|meta"
    r"|title|section|article|font)(?=[\s>/])",
    re.I,
)


def _looks_like_html(text: str) -> bool:
    head = text[:65536]  # a bounded sample keeps sniffing cheap on huge files
    pos = _LEADING_JUNK.match(head).end()  # type: ignore[union-attr]  # it also matches ""
    if _HTML_START.match(head, pos):
        return True
    if not _HTML_TAG.match(head, pos):
        return False
    # Markdown may open with one tag (<div align="center">); HTML has tags on most lines.
    lines = [line for line in head.splitlines() if line.strip()]
    return sum(1 for line in lines if _HTML_TAG.search(line)) * 2 >= len(lines)


# --- HTML -> text -----------------------------------------------------------
# Unicode noncharacters (reserved for internal use) mark layout in the flattened
# stream; whitespace is collapsed afterwards, which a plain '\n' would not survive.
_BR, _PARA, _TAB = "\ufdd0", "\ufdd1", "\ufdd2"
_NO_MARKS = {ord(mark): None for mark in _BR + _PARA + _TAB}
_EDGE = " \t\n\r\f\v\xa0" + _BR + _PARA
# svg: chart labels would be noise; img: base64 blobs; title/meta: word processors put them in the body
_DROP = ("script", "style", "head", "title", "meta", "link", "img", "svg", "noscript", "template", "iframe")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset(
    {
        "p",
        "div",
        "ul",
        "ol",
        "table",
        "blockquote",
        "section",
        "article",
        "header",
        "footer",
        "main",
        "aside",
        "nav",
        "address",
        "figure",
        "center",
        "form",
        "dl",
        "dt",
        "dd",
        "hr",
        "pre",
        "body",
    }
)
_RESHAPED = _HEADINGS | {"li", "tr", "td", "th"}
_OPENING = {"br": _BR} | {tag: _PARA for tag in _BLOCKS}
_Frame = tuple[etree._Element, list[str], list[str], Iterator[etree._Element], bool]  # el, parts, outer, kids, own


def html_to_text(html: str) -> str:
    """HTML page or fragment -> markdown-ish lines; ExtractError (no file name) if libxml2 gives up."""
    # bytes with a fixed encoding: a stray <?xml encoding=…?> or <meta charset> cannot mislead
    # the parser; huge_tree: else libxml2 drops text nodes over 10 MB and nesting over 256
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
    try:
        root = lxml.html.document_fromstring(clean_text(html).translate(_NO_MARKS).encode(), parser=parser)
    except etree.ParserError:  # nothing but whitespace or comments
        return ""
    if fatal := [error for error in parser.error_log if error.level == etree.ErrorLevels.FATAL]:
        # e.g. unclosed <font> tags nested past 2048 levels: libxml2 stops and the rest is lost
        raise ExtractError(f"HTML parser gave up, text would be lost ({fatal[0].message})")
    # after this every node is an element with a str tag
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, etree.Entity, *_DROP, with_tail=False)
    return _layout(_render(root))


def _render(root: etree._Element) -> str:
    # Iterative, not recursive: broken HTML nests unclosed tags thousands deep. Only elements
    # whose text is reshaped as a whole (headings, items, rows, cells, bold paragraphs) collect
    # their own parts; the rest write into their parent's, so deep nesting costs no copying.
    top = [root.text or ""]  # the root is <html>: neither a block nor reshaped
    numbers: dict[etree._Element, int] = {}
    stack: list[_Frame] = [(root, top, top, iter(root), False)]
    while stack:
        el, parts, outer, children, own = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            outer.append(_close(el, "".join(parts), numbers) if own else _PARA if el.tag in _BLOCKS else "")
            outer.append(el.tail or "")
            continue
        reshaped = child.tag in _RESHAPED or (child.tag in ("p", "div") and _fully_bold(child))
        inner = [] if reshaped else parts
        inner.extend(("" if reshaped else _OPENING.get(child.tag, ""), child.text or ""))
        stack.append((child, inner, parts, iter(child), reshaped))
    return "".join(top)


def _close(el: etree._Element, inner: str, numbers: dict[etree._Element, int]) -> str:
    if el.tag in _HEADINGS:
        text = _one_line(inner)
        return _PARA + "#" * int(el.tag[1]) + " " + text + _PARA if text else ""
    if el.tag in ("td", "th"):
        return _TAB + _one_line(inner)
    if el.tag == "tr":
        cells = [cell.strip() for cell in inner.split(_TAB)[1:]]
        return _BR + _TAB.join(cells) + _BR if any(cells) else ""
    if el.tag == "li":
        # paragraphs inside an item become its lines, so the marker never stands alone
        marker, text = _marker(el, numbers), inner.replace(_PARA, _BR).strip(_EDGE)
        return f"{_BR}{marker} {text}{_BR}" if text else ""
    # a fully bold <p>/<div>: the parser reads a fully bold line as a heading, so keep it
    lines = (_one_line(line) for line in inner.split(_BR))
    return _PARA + _BR.join(f"**{line}**" for line in lines if line) + _PARA


def _marker(li: etree._Element, numbers: dict[etree._Element, int]) -> str:
    lst = li.getparent()
    if lst is None or lst.tag != "ol":
        return "-"
    start = lst.get("start", "1").strip()
    number = numbers[lst] = numbers.get(lst, int(start) - 1 if start.isdigit() else 0) + 1
    kind = lst.get("type", "1")
    if kind in ("a", "A") and 1 <= number <= 26:
        return chr(ord(kind) + number - 1) + "."  # decisions cite these letters ("Ad 2.b")
    return f"{number}."


def _fully_bold(block: etree._Element) -> bool:
    """True when every non-blank piece of text in the block sits inside <b>/<strong>."""
    found = False
    for el in block.iter():
        if el is not block and (el.tag in _BLOCKS or el.tag in _RESHAPED):
            return False
        for text, owner in ((el.text, el), (None if el is block else el.tail, el.getparent())):
            if text and text.strip():
                while owner is not block and owner.tag not in ("b", "strong"):
                    owner = owner.getparent()
                if owner is block:
                    return False
                found = True
    return found


def _one_line(stream: str) -> str:
    return " ".join(stream.replace(_BR, " ").replace(_PARA, " ").replace(_TAB, " ").split())


def _layout(stream: str) -> str:
    # str.split() also splits on NBSP, so word processors' &nbsp; spacer paragraphs vanish
    blocks = []
    for block in stream.split(_PARA):
        lines = [" ".join(line.split()).replace(_TAB, "\t") for line in block.split(_BR)]
        if any(lines):
            blocks.append("\n".join(line for line in lines if line))
    return clean_text("\n\n".join(blocks))


# --- inline HTML in text and markdown ---------------------------------------
# Markdown minutes carry the tags of the word processor or portal they were copied from. Only
# these tags are read as HTML; any other "<" ("<Bilag 1>", "<5 år", an autolink) stays text.
_INLINE = "a|abbr|b|big|br|div|em|font|h[1-6]|i|li|mark|ol|p|s|small|span|strike|strong|sub|sup|td|th|tr|u|ul"
_INLINE_TAG = re.compile(rf"</?(?:{_INLINE})(?=[\s>/])", re.I)
_INLINE_OR_ENTITY = re.compile(rf"{_INLINE_TAG.pattern}|&(?:#\d{{1,7}}|#x[0-9a-f]{{1,6}}|[a-z][a-z0-9]{{1,31}});", re.I)
_NOT_A_TAG = re.compile(rf"<(?!/?(?:{_INLINE})(?=[\s>/]))", re.I)
_INLINE_BLOCKS = frozenset({"p", "div", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
_BREAKS = re.compile(f" *[{_BR}{_PARA}][ {_BR}{_PARA}]*")  # with the spaces around them


def inline_html_to_text(text: str) -> str:
    """Tags and entities inside text or markdown lines rendered as text: bold and italic dropped,
    list items as "- " lines, ``<br>`` a line break, ``<sup>[1]</sup>`` its text, ``&amp;`` "&".

    Only lines holding a tag or entity are parsed (each on its own, so a tag left open cannot
    swallow the rest of the document); a line of nothing but tags becomes a blank line.
    """
    if ("<" not in text and "&" not in text) or not _INLINE_OR_ENTITY.search(text):
        return text
    parser = lxml.html.HTMLParser(huge_tree=True)  # one per call: lxml parsers are not thread-safe
    lines = text.split("\n")
    rendered = [_inline_line(line, parser) if _INLINE_OR_ENTITY.search(line) else line for line in lines]
    return clean_text("\n".join(rendered))  # entities may name characters clean_text removes


def _inline_line(line: str, parser: lxml.html.HTMLParser) -> str:
    try:
        root = lxml.html.fragment_fromstring(_NOT_A_TAG.sub("&lt;", line), create_parent="div", parser=parser)
    except etree.ParserError:
        return line
    parts: list[str] = []
    numbers: dict[etree._Element, int] = {}
    for event, el in etree.iterwalk(root, events=("start", "end")):
        if el is root:
            parts.append((root.text or "") if event == "start" else "")
        elif event == "start":
            parts += [_inline_opening(el, numbers), el.text or ""]
        else:
            parts += [_PARA if el.tag in _INLINE_BLOCKS else "", el.tail or ""]
    return _BREAKS.sub(_line_breaks, "".join(parts)).strip("\n")


def _inline_opening(el: etree._Element, numbers: dict[etree._Element, int]) -> str:
    if el.tag == "br":
        return _BR
    if el.tag == "li":
        return f"{_BR}{_marker(el, numbers)} "
    if el.tag in ("td", "th"):
        return "\t" if el.getprevious() is not None else ""
    if el.tag in _INLINE_BLOCKS:
        return _PARA + ("#" * int(el.tag[1]) + " " if el.tag in _HEADINGS else "")
    return ""


def _line_breaks(run: re.Match[str]) -> str:
    # a block boundary is a paragraph break, each <br> a line break (two of them a blank line)
    marks = run.group(0)
    return "\n\n" if _PARA in marks else "\n" * marks.count(_BR)


# --- every format -------------------------------------------------------------
# Bidirectional controls (embeddings, overrides, isolates, marks) let a title show text in a
# different order than it is stored ("U+202E gpj.exe"); Danish minutes never need them.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_XML_FORBIDDEN = re.compile(f"[\\x00-\\x08\\x0e-\\x1f\\ufffe\\uffff\\ud800-\\udfff{BIDI_CONTROLS}]")


def clean_text(text: str) -> str:
    """NFC, '\\n' line ends, and no character XML 1.0 forbids (feeds would reject them) nor any
    bidirectional control."""
    # VT (Word's manual line break) and FF (page break) end a line; deleting them would glue words
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0b", "\n").replace("\x0c", "\n")
    return unicodedata.normalize("NFC", _XML_FORBIDDEN.sub("", text))
