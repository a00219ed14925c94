"""Minutes PDFs made the way kommuner make them: a word processor document exported to PDF.

A minutes text (the markdown or plain layout of ``../shared/corpus``) becomes a Flat ODT
document (one XML file) that LibreOffice turns into a PDF, directly or through a .docx (as
when a Word document is exported). The document has what kommuner's PDFs have and a text
layer loses: Danish automatic hyphenation in justified body text, a running page header
("Hvidovre Kommune  Side 3 af 14") and footer ("Referat – <udvalg> – 06-01-2025"), bold
paragraphs as headings (no markup, sometimes a larger size), real tables, bullet lists, and
inline HTML rendered instead of printed. Variants: see :data:`VARIANTS`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from xml.sax.saxutils import escape

from bot.parse.minutes import collapse
from bot.parse.parser import parse_minutes
from bot.parse.sections import is_decision_heading

from .office_fodt import FODT

VARIANTS = ("plain", "docx", "two_column", "closed_last_page", "correction")
TIMEOUT = 120  # seconds for one soffice run (a whole batch of documents)

# The edit of the `correction` variant: about 40 words, three lines or more, so every later
# page break moves while the text of every later item stays the same.
CORRECTION = (
    "Efter udsendelsen af dagsordenen har forvaltningen modtaget supplerende oplysninger fra de "
    "berørte parter, og oplysningerne er indarbejdet i sagsfremstillingen, så udvalget har det "
    "bedst mulige grundlag for at træffe beslutning i sagen på mødet, herunder om den videre "
    "proces og tidsplanen for opfølgningen."
)
# The `closed_last_page` variant ends on a page of closed items, one line each.
CLOSED_TITLES = (
    "Lukket: Personalesag",
    "Lukket: Køb af ejendom til erhvervsformål",
    "Lukket: Klagesag vedrørende tilbagebetaling",
    "Lukket: Udbud af rengøring - tildeling",
)
PAGE_BREAK = "\f"  # a line of its own in a minutes text: the parser sees a blank line


@dataclass(frozen=True)
class OfficePdf:
    """One converted document and what the tests compare it with."""

    name: str  # the corpus file it was made from
    variant: str
    source: str  # the minutes text the document shows (the corpus text, edited for some variants)
    pdf: Path
    header: str  # the running header's fixed part, e.g. "Hvidovre Kommune"
    footer: str  # the running footer, e.g. "Referat – Social- og Arbejdsmarkedsudvalget – 06-01-2025"
    edited_item: int | None = None  # correction: the number of the item whose text changed


class ConversionError(Exception):
    """soffice failed, timed out or wrote no PDF; the message names the documents."""


class OfficeFactory:
    """Makes every corpus file in every variant on first use, in three soffice runs."""

    def __init__(self, corpus: Path, root: Path, soffice: str) -> None:
        self.corpus, self.root, self.soffice = corpus, root, soffice
        self._made: dict[tuple[str, str], OfficePdf] = {}
        self._failure: ConversionError | None = None

    def pdf(self, name: str, variant: str) -> OfficePdf:
        """The document made from corpus file `name` in `variant`; ConversionError if soffice failed."""
        if not self._made and self._failure is None:
            try:
                self._made = self._make_all()
            except ConversionError as exc:
                self._failure = exc  # every test reports it, none waits for soffice again
        if self._failure is not None:
            raise self._failure
        return self._made[(name, variant)]

    def _make_all(self) -> dict[tuple[str, str], OfficePdf]:
        sources, pdfs, docx = self.root / "documents", self.root / "pdf", self.root / "docx"
        for folder in (sources, pdfs, docx):
            folder.mkdir(parents=True, exist_ok=True)
        made: dict[tuple[str, str], OfficePdf] = {}
        direct: list[Path] = []
        via_docx: list[Path] = []
        for path in sorted(self.corpus.iterdir()):
            for variant in VARIANTS:
                doc, xml = document(path.name, path.read_text(encoding="utf-8"), variant)
                fodt = sources / f"{path.stem}__{variant}.fodt"
                fodt.write_text(xml, encoding="utf-8")
                (via_docx if variant == "docx" else direct).append(fodt)
                made[(path.name, variant)] = replace(doc, pdf=pdfs / f"{fodt.stem}.pdf")
        self._convert(direct, "pdf", pdfs)
        self._convert(via_docx, "docx", docx)
        self._convert([docx / f"{fodt.stem}.docx" for fodt in via_docx], "pdf", pdfs)
        return made

    def _convert(self, files: list[Path], target: str, outdir: Path) -> None:
        # A private profile: a second soffice (another test run, a desktop session) using the
        # default profile would otherwise make this one hand over its work and exit at once.
        profile = (self.root / "profile").as_uri()
        command = [self.soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore"]
        command += ["--convert-to", target, "--outdir", str(outdir), *map(str, files)]
        names = ", ".join(f.name for f in files)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ConversionError(f"soffice did not convert {names} to {target} within {TIMEOUT} s") from exc
        missing = [f.name for f in files if not (outdir / f"{f.stem}.{target}").is_file()]
        if done.returncode != 0 or missing:
            raise ConversionError(
                f"soffice --convert-to {target} failed (exit code {done.returncode}) for {', '.join(missing) or names}:"
                f" {done.stderr.strip()[-500:]}"
            )


def document(name: str, text: str, variant: str) -> tuple[OfficePdf, str]:
    """The minutes `text` as a Flat ODT document in `variant`; the OfficePdf lacks its real pdf path."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    edited = None
    if variant == "closed_last_page":
        text = with_closed_last_page(text)
    elif variant == "correction":
        text, edited = with_correction(text, name)
    meeting = parse_minutes(text, name)
    header = f"{kommune_of(name)} Kommune"
    footer = f"{meeting.kind.capitalize()} – {meeting.committee} – {meeting.date:%d-%m-%Y}"
    body, styles = _body(_blocks(text, name), two_column=variant == "two_column")
    made = OfficePdf(name, variant, text, Path(), header, footer, edited)
    return made, FODT.format(header=escape(header), footer=escape(footer), body=body, styles=styles)


def kommune_of(name: str) -> str:
    """'soenderborg-arbejdsmarkedsudvalget-….txt' -> 'Sønderborg'."""
    slug = name.split("-")[0]
    return slug.replace("oe", "ø").replace("ae", "æ").replace("aa", "å").capitalize()


# --- variants ----------------------------------------------------------------------------------
_ITEM_LINE = re.compile(r"^(?P<pre>[#\s*]*)(?P<punkt>Punkt\s+)(?P<number>\d+)(?P<rest>:.*?)(?P<post>\**)\s*$")


def with_closed_last_page(text: str) -> str:
    """The minutes followed by a new page of closed items, each marked up like the file's items."""
    last = [m for line in text.split("\n") if (m := _ITEM_LINE.match(line))][-1]
    number = int(last.group("number"))
    lines = [text.rstrip("\n"), "", PAGE_BREAK, ""]
    for offset, title in enumerate(CLOSED_TITLES, 1):
        lines += [f"{last.group('pre')}Punkt {number + offset}: {title}{last.group('post')}", ""]
    return "\n".join(lines)


def with_correction(text: str, name: str) -> tuple[str, int]:
    """The minutes with CORRECTION added to the first long paragraph outside a decision, and
    that item's number."""
    lines = text.split("\n")
    for item in parse_minutes(text, name).items:
        for section in item.sections:
            if is_decision_heading(section.heading):
                continue
            for paragraph in section.text.split("\n\n"):
                if len(paragraph) < 120 or "\n" in paragraph:
                    continue
                index = next((i for i, line in enumerate(lines) if line.strip() == paragraph.strip()), None)
                if index is not None:
                    lines[index] = f"{lines[index].rstrip()} {CORRECTION}"
                    return "\n".join(lines), item.number or 0
    raise ValueError(f"{name}: no paragraph of 120 characters outside a decision to correct")


# --- minutes text -> blocks ----------------------------------------------------------------------
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_FULL_BOLD = re.compile(r"^\*\*(?!.*\*\*.)(.+)\*\*$")
_TOC = re.compile(r"\.{3,}\s*\t\s*\d+\s*$")
_BULLET = re.compile(r"^(\s*)[-*]\s+(.*)$")


@dataclass(frozen=True)
class _Block:
    kind: str  # heading, para, toc, rows, items, pagebreak
    lines: tuple[str, ...]
    level: int = 0  # heading: 1-4 by size, 0 a bold paragraph of body size; items: depth per line
    depths: tuple[int, ...] = ()


def _blocks(text: str, name: str) -> list[_Block]:
    lines = text.split("\n")
    headings = _plain_headings(lines, name)
    blocks: list[_Block] = []
    group: list[str] = []
    group_kind = ""

    def flush() -> None:
        nonlocal group, group_kind
        if group:
            depths = tuple(len(_BULLET.match(line).group(1)) // 2 for line in group) if group_kind == "items" else ()  # type: ignore[union-attr]
            blocks.append(_Block(group_kind, tuple(group), depths=depths))
        group, group_kind = [], ""

    for index, raw in enumerate(lines):
        kind, level, content = _line_kind(raw, index in headings, headings.get(index, 0))
        if kind in ("blank", "heading", "pagebreak") or kind != group_kind:
            flush()
        if kind in ("heading", "pagebreak"):
            blocks.append(_Block(kind, (content,), level))
        elif kind != "blank":
            group.append(content)
            group_kind = kind
    flush()
    return blocks


def _line_kind(raw: str, plain_heading: bool, plain_level: int) -> tuple[str, int, str]:
    stripped = raw.strip()
    if raw == PAGE_BREAK:
        return "pagebreak", 0, ""
    if not stripped:
        return "blank", 0, ""
    if found := _MD_HEADING.match(stripped):
        return "heading", min(len(found.group(1)), 4), found.group(2).replace("**", "")
    if found := _FULL_BOLD.match(stripped):
        return "heading", 0, found.group(1)
    if plain_heading:
        return "heading", plain_level, stripped
    if _TOC.search(raw):
        return "toc", 0, stripped
    if "\t" in raw:
        return "rows", 0, raw.rstrip()
    if _BULLET.match(raw):
        return "items", 0, raw.rstrip()
    return "para", 0, stripped


def _plain_headings(lines: list[str], name: str) -> dict[int, int]:
    """In the plain layout the headings are lines of their own: which are, and their size level.
    The text parser decides (title, item lines, section headings), as a reader sees them."""
    if any(_MD_HEADING.match(line.strip()) or _FULL_BOLD.match(line.strip()) for line in lines):
        return {}  # the markdown layout marks its own headings
    items = iter(parse_minutes("\n".join(lines), name).items)
    found: dict[int, int] = {}
    names: set[str] = set()
    for index, line in enumerate(lines):
        alone = (index == 0 or not lines[index - 1].strip()) and (
            index + 1 == len(lines) or not lines[index + 1].strip()
        )
        text = collapse(line)
        if not alone or not text:
            continue
        if not found:
            found[index] = 1  # the title
        elif _ITEM_LINE.match(text):
            item = next(items)
            names = {re.sub(r" \(\d+\)$", "", section.heading) for section in item.sections}
            found[index] = 2
        elif text.rstrip(":").strip() in names or text == "Indholdsfortegnelse":
            found[index] = 0
    return found


# --- blocks -> ODF XML ---------------------------------------------------------------------------
_HEADING_STYLE = {0: "BoldParagraph", 1: "Heading1", 2: "Heading2", 3: "Heading3", 4: "Heading4"}
_INLINE = re.compile(r"\*\*|</?(?:b|strong|sup|i|em)>|<[^>]*>|\\([\\`*_{}\[\]()#+\-.!|])")


def _body(blocks: list[_Block], two_column: bool) -> tuple[str, str]:
    """The document body, and the automatic styles it needs (its tables' column widths)."""
    parts: list[str] = []
    styles: list[str] = []
    closed_page, columns, items = False, False, False
    for number, block in enumerate(blocks):
        items = items or (block.kind == "heading" and bool(_ITEM_LINE.match(block.lines[0])))
        if block.kind == "pagebreak":
            closed_page = True
            continue
        if block.kind == "rows":
            if columns:  # a wide table is set across the page, between two column sections
                parts.append("</text:section>")
                columns = False
            table, widths = _table(block.lines, f"Tabel{number}")
            parts.append(table)
            styles.append(widths)
            continue
        if two_column and items and not columns:  # the items in two columns, the title page across
            parts.append(f'<text:section text:style-name="Columns" text:name="Spalter{number}">')
            columns = True
        style = "ClosedItem" if closed_page else _HEADING_STYLE[block.level]
        if block.kind == "heading" and closed_page and blocks[number - 1].kind == "pagebreak":
            style = "ClosedItemFirst"  # the page break is a paragraph property of the page's first line
        parts.append(_xml(block, style))
    if columns:
        parts.append("</text:section>")
    return "\n".join(parts), "\n".join(styles)


def _xml(block: _Block, heading_style: str) -> str:
    if block.kind == "heading":
        return f'<text:p text:style-name="{heading_style}">{_inline(block.lines[0], bold_marks=False)}</text:p>'
    if block.kind == "toc":
        return "\n".join(f'<text:p text:style-name="Toc">{_inline(line)}</text:p>' for line in block.lines)
    if block.kind == "items":
        return _list(list(zip(block.depths, block.lines, strict=True)))
    lines = "<text:line-break/>".join(_inline(line) for line in block.lines)
    return f'<text:p text:style-name="Body">{lines}</text:p>'


def _inline(text: str, bold_marks: bool = True) -> str:
    """Markdown bold and inline HTML as formatting, never printed; other tags dropped."""
    out, styles, pos = [], {"b": False, "sup": False, "i": False}, 0
    for found in _INLINE.finditer(text):
        out.append(_span(text[pos : found.start()], styles))
        token, pos = found.group(), found.end()
        if found.group(1):
            out.append(_span(found.group(1), styles))  # a markdown escape: the character itself
        elif token == "**":
            styles["b"] = bold_marks and not styles["b"]
        elif (tag := re.sub(r"[</>]", "", token)) in ("b", "strong", "sup", "i", "em"):
            key = {"strong": "b", "em": "i"}.get(tag, tag)
            styles[key] = not token.startswith("</")
    out.append(_span(text[pos:], styles))
    return "".join(out)


def _span(text: str, styles: dict[str, bool]) -> str:
    if not text:
        return ""
    on = [key for key, value in styles.items() if value]
    body = escape(text).replace("\t", "<text:tab/>")
    return f'<text:span text:style-name="T_{"_".join(on)}">{body}</text:span>' if on else body


def _table(rows: tuple[str, ...], name: str) -> tuple[str, str]:
    """Tab-separated rows as a table, and its column styles: each column is at least as wide as
    its longest word, since a cell too narrow for a word breaks it without a hyphen."""
    cells = [row.split("\t") for row in rows]
    width = max(len(row) for row in cells)
    cells = [row + [""] * (width - len(row)) for row in cells]
    out = [f'<table:table table:name="{name}" table:style-name="Table">']
    weights = []
    for column in zip(*cells, strict=True):
        texts = [collapse(re.sub(r"<[^>]*>|\*\*", "", cell)) for cell in column]
        longest_word = max((len(word) for text in texts for word in text.split()), default=1)
        weights.append(max(longest_word + 2, min(max(len(text) for text in texts), 30)))
    styles = []
    for index, weight in enumerate(weights):
        styles.append(
            f'<style:style style:name="{name}.{index}" style:family="table-column"><style:table-column-properties'
            f' style:column-width="{16 * weight / sum(weights):.3f}cm" style:rel-width="{weight * 100}*"/></style:style>'
        )
        out.append(f'<table:table-column table:style-name="{name}.{index}"/>')
    for row in cells:
        out.append("<table:table-row>")
        for cell in row:
            out.append(
                '<table:table-cell table:style-name="Cell" office:value-type="string">'
                f'<text:p text:style-name="CellText">{_inline(cell.strip())}</text:p></table:table-cell>'
            )
        out.append("</table:table-row>")
    return "".join(out) + "</table:table>", "".join(styles)


def _list(entries: list[tuple[int, str]], depth: int = 0) -> str:
    """Bullet lines (``- …``, nested by indentation) as a real list, nested lists in their item."""
    out = ['<text:list text:style-name="Bullets">' if depth == 0 else "<text:list>"]
    index = 0
    while index < len(entries):
        own, line = entries[index]
        text = _BULLET.match(line).group(2)  # type: ignore[union-attr]
        nested = []
        index += 1
        while index < len(entries) and entries[index][0] > own:
            nested.append(entries[index])
            index += 1
        inner = _list(nested, depth + 1) if nested else ""
        out.append(
            f'<text:list-item><text:p text:style-name="ListText">{_inline(text)}</text:p>{inner}</text:list-item>'
        )
    return "".join(out) + "</text:list>"


def office_available() -> str | None:
    """The soffice program, or None when LibreOffice is not installed."""
    return shutil.which("soffice")
