"""A section's stored text as safe HTML for the item pages.

Stored text is plain: paragraphs split by blank lines, list items as ``- `` or ``1. `` lines,
table rows with tab-separated cells, and markdown emphasis (``**bold**``, ``*italics*``) left
where the minutes had it. Minutes are untrusted, so every piece of text is escaped before the
few tags made here wrap it; a literal tag that reached the store (``<b>``, from minutes read
before the parser rendered inline HTML) is rendered to text first, so it never shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from markupsafe import Markup, escape

from bot.parse.extract import clean_text, inline_html_to_text

_BULLET = re.compile(r"^(?:[-*•·▪–]\s+|(\d{1,3})[.)]\s+)")
_HEADING = re.compile(r"^#{1,6}\s+")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_LEFTOVER = re.compile(r"\*\*+")
_SUB_HEADING = 70  # characters at most
_CLAUSE = re.compile(r"(?<!-)[,.;] ")  # a sentence goes on after a comma; "Klima-, miljø- og …" is one name


def section_html(text: str) -> Markup:
    """The text as paragraphs, lists, tables and sub-headings."""
    lines = inline_html_to_text(clean_text(text)).split("\n")
    runs = list(_runs(lines))
    # Built as plain strings (Markup.format is slow on a national year's pages): every piece
    # of text goes through _inline, which escapes it, before a tag made here wraps it.
    return Markup(
        "\n".join(
            _block("heading" if kind == "text" and index < len(runs) - 1 and _sub_heading(run) else kind, run)
            for index, (kind, run) in enumerate(runs)
        )
    )


def _inline(text: str) -> str:
    """One line, escaped, with its markdown emphasis as ``<strong>``/``<em>``."""
    html = str(escape(text))  # escaping first: the tags below are the only ones in the result
    if "*" not in html:  # every rule below needs one
        return html
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    html = _ITALIC.sub(r"<em>\1</em>", html)
    return _LEFTOVER.sub("", html)


def _sub_heading(run: list[str]) -> bool:
    """A short line standing alone before more text, without a sentence's end: the sub-heading
    of a section, which the parser keeps as a line of text ("Ændringer efter høringen")."""
    line = run[0].replace("*", "").strip()
    short = len(run) == 1 and 0 < len(line) <= _SUB_HEADING and line[0].isupper()
    return short and line[-1] not in ".,:;!?)>" and not _CLAUSE.search(line)


def _kind(line: str) -> str:
    if not line.strip():
        return "blank"
    if _HEADING.match(line):
        return "heading"
    if "\t" in line:
        return "table"
    if _BULLET.match(line):
        return "list"
    return "text"


def _runs(lines: list[str]) -> Iterator[tuple[str, list[str]]]:
    """Consecutive lines of one kind (a blank line ends every run)."""
    kind, run = "blank", list[str]()
    for line in lines:
        this = _kind(line.strip())
        if this != kind or this == "heading":
            if run and kind != "blank":
                yield kind, run
            kind, run = this, []
        run.append(line.strip())
    if run and kind != "blank":
        yield kind, run


def _block(kind: str, lines: list[str]) -> str:
    if kind == "heading":
        words = _HEADING.sub("", lines[0]).replace("*", "").strip()
        return f'<h3 class="sub">{escape(words)}</h3>'
    if kind == "list":
        first = _BULLET.match(lines[0])
        items = "".join(f"<li>{_inline(_BULLET.sub('', line))}</li>" for line in lines)
        if first and first.group(1):  # numbered as the minutes number it, which may not start at 1
            return f'<ol start="{int(first.group(1))}">{items}</ol>'
        return f"<ul>{items}</ul>"
    if kind == "table":
        rows = "".join(
            "<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in row.split("\t")) + "</tr>" for row in lines
        )
        return f'<div class="table"><table>{rows}</table></div>'
    return "<p>" + "<br>".join(_inline(line) for line in lines) + "</p>"
