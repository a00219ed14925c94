"""Hardening (issue 11): links out of a folder, slow and failing portals, odd documents,
cross-host redirects, bidi controls and oversized watchlists. Each test reproduces a defect
found by a reliability run, with real files, a real local portal and the real CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.config import load_config
from bot.errors import ConfigError, FetchError
from bot.fetch import Fetcher, FetchSettings
from bot.match.watchlists import MAX_TERMS, load_watchlist
from bot.parse.parser import parse_minutes
from bot.publish.digest_render import header_safe
from bot.run.pipeline import open_store
from bot.store.models import SourceState

from .helpers import Doc, json_lines, run_cli, standard_agenda, write_config
from .portal import (
    LISTING,
    Reply,
    Server,
    agenda,
    agenda_path,
    item,
    listing,
    meeting,
    portal_source,
    running,
    write_portal_config,
)


@pytest.fixture
def server() -> Iterator[Server]:
    with running(Server()) as srv:
        yield srv


def put(folder: Path, name: str, doc: Doc | str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else doc.text(), encoding="utf-8")
    return path


# --- 1. a folder source never reads through a link out of its folder ----------------------------


def test_links_out_of_the_folder_are_skipped_with_a_warning_naming_them(tmp_path: Path) -> None:
    minutes, elsewhere = tmp_path / "minutes", tmp_path / "elsewhere"
    put(minutes, "dagsorden.md", standard_agenda())
    secret = put(elsewhere, "secret.md", Doc(committee="Hemmeligt Udvalg").item(1, "Hemmelig sag", "26/9"))
    (minutes / "secret-link.md").symlink_to(secret)
    (minutes / "passwd.txt").symlink_to("/etc/passwd")
    (minutes / "gone.md").symlink_to(tmp_path / "nothing-here.md")
    (minutes / "outside").symlink_to(elsewhere, target_is_directory=True)
    put(minutes, "sub/inside.md", Doc(committee="Teknik- og Miljøudvalget").item(1, "Vejplan", "26/7"))
    (minutes / "inside-link.md").symlink_to(minutes / "sub" / "inside.md")
    config = write_config(tmp_path, minutes)

    result = run_cli(config, "ingest")

    assert result.exit_code == 0, result.stderr
    for name in ("secret-link.md", "passwd.txt", "outside"):
        assert (
            f"warning: source 'test' (Testrup): {minutes / name}: symbolic link to something outside the folder; skipped"
            in result.stderr
        )
    assert (
        f"warning: source 'test' (Testrup): {minutes / 'gone.md'}: symbolic link to nothing; skipped" in result.stderr
    )
    titles = {entry["title"] for entry in json_lines(config, "items")}
    assert "Hemmelig sag" not in titles and "Vejplan" in titles, "a link inside the folder is read"
    archive = tmp_path / "state" / "archive"
    assert not any(b"root:" in path.read_bytes() for path in archive.rglob("*") if path.is_file())
    published = "".join(path.read_text(encoding="utf-8") for path in (tmp_path / "state").rglob("*.xml"))
    published += (tmp_path / "state" / "feeds" / "index.html").read_text(encoding="utf-8")
    assert "Hemmelig" not in published and "secret" not in published


# --- 6. one slow portal cannot hold up the rest; partial failures count ----------------------------


def _portal(server: Server, meetings: int) -> None:
    listed = [meeting(f"m{n}", f"2026-05-{n + 10:02d}") for n in range(meetings)]
    server.json(LISTING, listing({"Økonomiudvalget": listed}))
    for n in range(meetings):
        items = [item(f"i{n}", 1, f"Sag nummer {n}", f"26/{n}", "<h3>Indstilling</h3><span>At sagen godkendes.</span>")]
        server.json(agenda_path(f"m{n}"), agenda(f"m{n}", "Økonomiudvalget", items))


def test_a_slow_portal_stops_at_its_budget_and_the_rest_comes_next_poll(tmp_path: Path, server: Server) -> None:
    _portal(server, 3)
    for n in range(3):  # each meeting answers long after the poll's budget of one second
        server.routes[agenda_path(f"m{n}")] = Reply(delay=6, body=b"{}")
    folder = put(tmp_path / "minutes", "dagsorden.md", standard_agenda()).parent
    config = write_portal_config(
        tmp_path,
        portal_source("slow", server.url, 'budget = "1s"'),
        f'name = "local"\nkommune = "Testrup"\ntype = "folder"\npath = "{folder}"',
    )

    first = run_cli(config, "ingest")

    assert first.exit_code == 0, first.stderr
    assert "warning: source 'slow' (Slow): its time budget of 1s was used up" in first.stderr
    assert sum(server.count(agenda_path(f"m{n}")) for n in range(3)) == 1, "one slow meeting, not three"
    assert {entry["source"] for entry in json_lines(config, "items")} == {"local"}, "the next source was read"
    _portal(server, 3)  # the portal answers at once now: the rest is fetched at the next poll
    second = run_cli(config, "ingest")
    assert second.exit_code == 0, second.stderr
    assert sorted(entry["title"] for entry in json_lines(config, "items") if entry["source"] == "slow") == [
        "Sag nummer 0",
        "Sag nummer 1",
        "Sag nummer 2",
    ]


def test_a_source_whose_meetings_mostly_fail_counts_as_failing(tmp_path: Path, server: Server) -> None:
    _portal(server, 3)
    for n in (0, 1):
        server.routes[agenda_path(f"m{n}")] = Reply(status=404, body=b"gone", validators=False)
    config = write_portal_config(tmp_path, portal_source("half", server.url), bot="alert_after_failures = 1")

    result = run_cli(config, "ingest")

    assert result.exit_code == 1
    with open_store(load_config(config)) as store, store.session() as session:
        half = session.exec(select(SourceState).where(SourceState.name == "half")).one()
    assert half.failures == 1 and (half.last_error or "").startswith("2 of 3 documents failed; the first: ")
    health = (tmp_path / "state" / "feeds" / "_health.xml").read_text(encoding="utf-8")
    assert "Kilden half" in health and "fejler" in health


# --- 11, 12. odd documents never stop an ingest ---------------------------------------------------


def test_item_numbers_of_five_digits_and_more_are_items(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    put(
        tmp_path / "minutes",
        "dagsorden.md",
        Doc().item(9999, "Sidste firecifrede", "26/1").item(10000, "Femcifret", "26/2"),
    )
    put(
        tmp_path / "minutes",
        "stor.md",
        Doc(day="03-11-2026").item(1, "Første", "26/3").item(10**12, "Alt for stor", "26/4"),
    )

    result = run_cli(config, "ingest")

    assert [(i["number"], i["title"]) for i in json_lines(config, "items")] == [
        (9999, "Sidste firecifrede"),
        (10000, "Femcifret"),
    ]
    assert "stor.md: item number 1000000000000 is too large (at most 999,999,999)" in result.stderr


def test_a_document_that_lists_an_item_twice_stops_nothing(tmp_path: Path) -> None:
    twice, other = tmp_path / "twice", tmp_path / "other"
    doubled = standard_agenda().item(2, "Budgetopfølgning 3. kvartal", "26/200", Indstilling="En anden tekst.")
    same = (
        Doc(day="03-11-2026")
        .item(1, "Godkendelse af dagsorden", "26/100")
        .item(1, "Godkendelse af dagsorden", "26/100")
    )
    put(twice, "dagsorden.md", doubled)
    put(twice, "igen.md", same)
    put(other, "dagsorden.md", standard_agenda())
    config = write_portal_config(
        tmp_path,
        f'name = "twice"\nkommune = "Testrup"\ntype = "folder"\npath = "{twice}"',
        f'name = "other"\nkommune = "Andrup"\ntype = "folder"\npath = "{other}"',
    )

    result = run_cli(config, "ingest")

    assert result.exit_code == 0, result.stderr
    items = json_lines(config, "items")
    assert len([i for i in items if i["source"] == "other"]) == 4
    assert [(i["number"], i["title"]) for i in items if i["source"] == "twice"][:5] == [
        (1, "Godkendelse af dagsorden"),
        (2, "Budgetopfølgning 3. kvartal"),
        (3, "Busplan 2027"),
        (4, "Lukket: Personalesag"),
        (1, "Godkendelse af dagsorden"),
    ]
    assert (
        "item 2 (Budgetopfølgning 3. kvartal) is listed twice with different text; the first is kept" in result.stderr
    )
    assert "igen.md" not in result.stderr, "an exact repeat is merged quietly"


# --- 13. redirects, bidi controls, oversized watchlists --------------------------------------------


def test_a_redirect_to_another_host_is_refused_unless_the_source_lives_there(server: Server) -> None:
    port = server.httpd.server_address[1]
    server.routes["/moved"] = Reply(
        status=302, headers={"Location": f"http://localhost:{port}/there"}, validators=False
    )
    server.raw("/there", b"arrived", "text/plain")
    with Fetcher(FetchSettings(min_interval=0, attempts=1)) as fetcher:
        with fetcher.polling(f"http://127.0.0.1:{port}", 60), pytest.raises(FetchError) as refused:
            fetcher.get(f"{server.url}/moved")
        assert str(refused.value) == (
            f"{server.url}/moved: redirected to another host, localhost (asked 127.0.0.1); not followed. "
            "If the site has moved, set the source's url to its address on localhost"
        )
        with fetcher.polling(f"http://localhost:{port}", 60):
            assert fetcher.get(f"{server.url}/moved").content == b"arrived", "the source's own host is fine"


def test_bidi_controls_never_reach_titles(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    put(tmp_path / "minutes", "dagsorden.md", Doc().item(1, "Budget \u202egpj.exe\u202c og \u2067skat\u2069", "26/1"))

    assert run_cli(config, "ingest").exit_code == 0

    assert [i["title"] for i in json_lines(config, "items")] == ["Budget gpj.exe og skat"]
    assert "\u202e" not in (tmp_path / "state" / "feeds" / "source-test.xml").read_text(encoding="utf-8")
    assert header_safe("Nyt: \u202eBudget\r\nBcc: x@y.dk", 100) == "Nyt: Budget Bcc: x@y.dk"


def test_oversized_watchlists_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    huge = tmp_path / "kaempe.toml"
    huge.write_text("terms = [" + ", ".join(f'"ord{n}"' for n in range(200_000)) + "]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kaempe.toml: larger than 1 MB; split it into several watchlists"):
        load_watchlist(huge)
    many = tmp_path / "mange.toml"
    many.write_text("terms = [" + ", ".join(f'"o{n}"' for n in range(MAX_TERMS + 1)) + "]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"20,001 terms and case numbers; at most 20,000 per watchlist"):
        load_watchlist(many)


def test_repeated_section_headings_never_collide_with_a_real_one() -> None:
    # Found by tests/test_fuzz.py: sections are keyed by heading in diffs and JSON.
    text = "# Referat Økonomiudvalget d. 02-11-2026\n\n# Punkt 1: Test\n\n"
    text += "".join(
        f"## {heading}\n\n{body}\n\n"
        for heading, body in (("Indstilling", "a"), ("Indstilling", "b"), ("Indstilling (2)", "c"))
    )
    sections = parse_minutes(text, "x.md").items[0].sections
    assert [(s.heading, s.text) for s in sections] == [
        ("Indstilling", "a"),
        ("Indstilling (3)", "b"),
        ("Indstilling (2)", "c"),
    ]
