"""The http-index source against a real local site: a listing page linking PDF and HTML minutes."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from bot.sources.http_index import find_links

from .helpers import Doc, json_lines, run_cli, standard_agenda
from .pdfmaker import make_pdf
from .portal import Server, running, write_portal_config

PAGE = """<html><head><title>Referater</title></head><body>
<a href="/om">Om kommunen</a> <a href="#top">Til toppen</a> <a href="mailto:post@example.dk">Skriv</a>
<ul class="minutes">
  <li><a href="docs/referat-2026-11-02.pdf">Referat 2. november</a></li>
  <li><a href="{base}/docs/dagsorden-2026-11-10.html#punkt-1">Dagsorden 10. november</a></li>
</ul>
<p class="old"><a href="docs/referat-2019.pdf">Gammelt referat</a></p>
</body></html>"""


def as_html(doc: Doc) -> bytes:
    parts = []
    for line in doc.text().split("\n"):
        if line.startswith("## "):
            parts.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            parts.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.strip():
            parts.append(f"<p>{html.escape(line)}</p>")
    return ("<!DOCTYPE html><html><meta charset='utf-8'><body>" + "".join(parts) + "</body></html>").encode()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Server]:
    with running(Server()) as srv:
        srv.raw("/politik/referater", PAGE.format(base=srv.url).encode(), "text/html; charset=utf-8")
        minutes = Doc(kind="REFERAT", day="02-11-2026").item(
            1, "Budget 2027", "26/10", Indstilling="At budgettet vedtages."
        )
        pdf = make_pdf(tmp_path / "referat.pdf", minutes.text().split("\n"))
        srv.raw("/politik/docs/referat-2026-11-02.pdf", pdf.read_bytes(), "application/pdf")
        agenda = standard_agenda()
        agenda.day = "10-11-2026"
        srv.raw("/docs/dagsorden-2026-11-10.html", as_html(agenda), "text/html; charset=utf-8")
        srv.raw("/politik/docs/referat-2019.pdf", b"%PDF-1.4 broken", "application/pdf")
        yield srv


def index_source(url: str, how: str) -> str:
    return f'name = "web"\nkommune = "Webby"\ntype = "http-index"\nurl = "{url}/politik/referater"\nmin_interval = 0\n{how}'


def test_pdf_and_html_minutes_linked_from_a_page_are_ingested(tmp_path: Path, site: Server) -> None:
    config = write_portal_config(
        tmp_path, index_source(site.url, "link_pattern = '202\\d-\\d\\d-\\d\\d\\.(pdf|html)$'")
    )
    result = run_cli(config, "ingest")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("2 documents read (0 unchanged): 5 new, 0 changed")
    items = json_lines(config, "items")
    assert {(i["meeting_date"], i["doc_kind"]) for i in items} == {
        ("2026-11-02", "referat"),
        ("2026-11-10", "dagsorden"),
    }
    budget = next(i for i in items if i["title"] == "Budget 2027")
    assert budget["url"] == f"{site.url}/politik/docs/referat-2026-11-02.pdf", "relative links are resolved"
    assert budget["document"]["key"] == budget["url"]

    again = run_cli(config, "ingest")
    assert again.stdout.startswith("2 documents read (2 unchanged): 0 new, 0 changed")
    pdf_requests = [seen for seen in site.requests if seen.path.endswith(".pdf")]
    assert len(pdf_requests) == 2 and "if-none-match" in pdf_requests[1].headers, "a conditional GET: 304"
    assert site.count("/politik/docs/referat-2019.pdf") == 0


def test_a_css_selector_picks_the_links(tmp_path: Path, site: Server) -> None:
    config = write_portal_config(tmp_path, index_source(site.url, 'link_selector = "ul.minutes li"'))
    result = run_cli(config, "ingest")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("2 documents read (0 unchanged)")
    assert site.count("/docs/dagsorden-2026-11-10.html") == 1 and site.count("/om") == 0


def test_a_missing_document_is_reported_and_the_others_are_ingested(tmp_path: Path, site: Server) -> None:
    config = write_portal_config(tmp_path, index_source(site.url, "link_pattern = 'referat'"))
    site.routes.pop("/politik/docs/referat-2026-11-02.pdf")
    result = run_cli(config, "ingest")
    assert result.exit_code == 1
    assert f"error: source 'web' (Webby): {site.url}/politik/docs/referat-2026-11-02.pdf: HTTP 404 Not Found" in (
        result.stderr
    )
    assert f"error: source 'web' (Webby): {site.url}/politik/docs/referat-2019.pdf: " in result.stderr, (
        "the broken PDF is named too"
    )


def test_find_links_resolves_dedupes_and_drops_what_is_not_a_document() -> None:
    page = b"""<html><head><base href="https://x.dk/a/"></head><body>
    <a href="r1.pdf">1</a><a href="r1.pdf#p2">1 again</a><a href="/b/r2.pdf">2</a>
    <a href="javascript:void(0)">js</a><a href="ftp://x.dk/r3.pdf">ftp</a><div class="d"><a href="d.html">d</a></div>
    </body></html>"""
    assert find_links(page, "https://x.dk/list", pattern=r"\.pdf") == ["https://x.dk/a/r1.pdf", "https://x.dk/b/r2.pdf"]
    assert find_links(page, "https://x.dk/list", pattern=r"^/b/") == ["https://x.dk/b/r2.pdf"], "the link as written"
    assert find_links(page, "https://x.dk/list", selector="div.d") == ["https://x.dk/a/d.html"]
    assert find_links(b"", "https://x.dk/list", pattern="x") == []


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("", r"source\[1\]: give exactly one of link_pattern .* and link_selector"),
        ("link_pattern = 'x'\nlink_selector = 'a'", r"give exactly one of link_pattern"),
        ("link_pattern = '(unclosed'", r"source\[1\]\.link_pattern: '\(unclosed' is not a valid regular expression"),
        ("link_selector = 'a[['", r"source\[1\]\.link_selector: 'a\[\[' is not a valid CSS selector"),
    ],
)
def test_http_index_config_mistakes_are_named(tmp_path: Path, how: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(write_portal_config(tmp_path, index_source("https://example.org", how)))
