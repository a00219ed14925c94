"""The rough edges a new user met in the CLI (issue 14), one test each, through the real CLI."""

from __future__ import annotations

import logging
import shlex
import threading
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import load_config
from bot.publish.serve import make_server
from bot.run.lock import writer_lock
from bot.run.scheduler import ZoneFormatter

from .helpers import Doc, add_watchlists, put, run_cli, standard_agenda, write_config
from .test_cli import _commands

SHELL = {"|", ">", ">>", "&&", ";"}


def setup(tmp_path: Path, **watchlists: str) -> Path:
    config = write_config(tmp_path)
    add_watchlists(tmp_path, **watchlists)
    put(tmp_path, "dagsorden.md", standard_agenda())
    return config


# --- help examples work when copied ----------------------------------------------------------


def _examples(text: str) -> list[str]:
    """The example commands of a help text: on the ``Example:`` line, or indented under ``Examples:``."""
    found, under = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Example: "):
            found.append(stripped.removeprefix("Example: "))
        elif stripped == "Examples:":
            under = True
            continue
        elif under and stripped.startswith("referatvagt "):
            found.append(stripped)
            continue
        under = False
    return found


def _parse(args: list[str]) -> click.Command:
    """Parse a command line as click would run it (options, arguments, subcommands), without
    running it: a UsageError if the example does not fit the command."""
    command: click.Command = cli
    name = "referatvagt"
    while True:
        ctx = command.make_context(name, args)
        if not isinstance(command, click.Group):
            return command
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, found, args = command.resolve_command(ctx, rest)
        assert found is not None and name is not None
        command = found


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "referatvagt")
def test_every_help_example_is_one_line_that_parses_when_copied(path: tuple[str, ...]) -> None:
    """Rendered narrow, so a rewrap inside a quoted argument would show: each example must
    still be whole (shlex splits it), start with referatvagt and parse as that command."""
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=50)
    assert result.exit_code == 0
    examples = _examples(result.output)
    assert examples, result.output
    for example in examples:
        words = shlex.split(example, comments=True)
        words = words[: next((n for n, word in enumerate(words) if word in SHELL), len(words))]
        assert words[0] == "referatvagt", example
        parsed = _parse(words[1:])
        assert isinstance(_command(path), click.Group) or parsed is _command(path), example


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def test_the_try_example_with_quotes_survives_a_narrow_terminal() -> None:
    result = CliRunner().invoke(cli, ["try", "--help"], terminal_width=40)
    assert "referatvagt try '\"nyt kontanthjælpssystem\"' 'daginstitution*'" in result.output


# --- status, run, matches, check, ingest ------------------------------------------------------


def test_status_counts_waiting_matches_only_for_watchlists_that_email_someone(tmp_path: Path) -> None:
    config = setup(
        tmp_path,
        quiet='terms = ["busplan"]\n',
        mailed='terms = ["busplan"]\n[deliver]\nemail = ["laeser@example.org"]\n',
    )
    run_cli(config, "ingest", "--send-backfill")  # no [email] table: the mailed match waits
    status = run_cli(config, "status").stdout
    assert "  1 match not yet in a digest; 0 failed digests" in status
    assert "1 items stored" not in status and "4 items stored" in status


def test_run_help_says_what_ingest_does_while_run_works_and_it_does_that(tmp_path: Path) -> None:
    help_text = CliRunner().invoke(cli, ["run", "--help"]).output
    assert "wait their turn" not in help_text
    assert "refuse to start" in help_text
    config = setup(tmp_path)
    with writer_lock(load_config(config)):
        result = run_cli(config, "ingest")
    assert result.exit_code == 2
    assert "another referatvagt process (run, ingest or digest) is using" in result.stderr


def test_matches_of_an_unknown_watchlist_is_an_error(tmp_path: Path) -> None:
    config = setup(tmp_path, bus='terms = ["busplan"]\n')
    run_cli(config, "ingest")
    result = run_cli(config, "matches", "--watchlist", "nosuch")
    assert result.exit_code == 2
    assert "no watchlist 'nosuch'" in result.stderr and "(watchlists: bus)" in result.stderr
    assert run_cli(config, "matches", "--watchlist", "bus").exit_code == 0
    (tmp_path / "watchlists" / "bus.toml").unlink()
    assert run_cli(config, "matches", "--watchlist", "bus").exit_code == 0, "a deleted watchlist keeps its matches"


def test_check_refuses_a_folder_source_whose_folder_does_not_exist(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "minutes")
    assert run_cli(config, "check").stdout.startswith(f"config: {config}: OK, 1 source\n")
    (tmp_path / "minutes").rmdir()
    result = run_cli(config, "check")
    assert result.exit_code == 2
    assert f"{config}:8: source[1].path: no folder {tmp_path / 'minutes'}" in result.stderr
    assert f"config: {config}: 1 error, 1 source" in result.stdout


def test_a_broken_watchlist_alone_gives_exit_code_3_and_a_failed_document_1(tmp_path: Path) -> None:
    config = setup(tmp_path, broken='terms = ["a"]\n', good='terms = ["busplan"]\n')
    result = run_cli(config, "ingest")
    assert result.exit_code == 3, result.stderr
    assert (
        result.stdout.strip()
        == "1 document read (0 unchanged): 4 new, 0 changed, 0 removed items; 1 new match; 1 error"
    )
    (tmp_path / "minutes" / "kaput.md").write_bytes(b"no minutes here")
    assert run_cli(config, "ingest").exit_code == 1
    assert run_cli(config, "run", "--once").exit_code == 1
    (tmp_path / "minutes" / "kaput.md").unlink()
    assert run_cli(config, "run", "--once").exit_code == 3
    (tmp_path / "watchlists" / "broken.toml").unlink()
    assert run_cli(config, "ingest").exit_code == 0


def test_run_logs_in_the_configured_time_zone_with_its_offset() -> None:
    record = logging.LogRecord("referatvagt", logging.INFO, __file__, 1, "polled", None, None)
    record.created = datetime(2026, 7, 1, 10, 0, tzinfo=timezone.utc).timestamp()
    line = ZoneFormatter(ZoneInfo("Europe/Copenhagen")).format(record)
    assert line == "2026-07-01 12:00:00 +0200 INFO polled"
    record.created = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc).timestamp()
    assert ZoneFormatter(ZoneInfo("Europe/Copenhagen")).format(record).startswith("2026-12-01 11:00:00 +0100")


def test_feeds_lists_atom_as_well_as_rss_for_source_feeds(tmp_path: Path) -> None:
    config = setup(tmp_path)
    run_cli(config, "ingest")
    lines = run_cli(config, "feeds").stdout.splitlines()
    at = lines.index("source-test (public) alt fra Testrup")
    assert lines[at + 1 : at + 3] == [
        "    http://127.0.0.1:8080/source-test.xml",
        "    http://127.0.0.1:8080/source-test.atom",
    ]


def test_a_deleted_watchlists_feeds_are_removed_and_no_longer_served(tmp_path: Path) -> None:
    config = setup(tmp_path, bus='terms = ["busplan"]\n', hemmelig='terms = ["budget"]\npublic = false\n')
    assert run_cli(config, "ingest").exit_code == 0
    feeds = tmp_path / "state" / "feeds"
    private = list(feeds.glob("private/*/hemmelig.*"))
    assert len(private) == 2 and (feeds / "bus.xml").is_file() and (feeds / "bus.atom").is_file()
    (tmp_path / "watchlists" / "bus.toml").unlink()
    (tmp_path / "watchlists" / "hemmelig.toml").unlink()
    assert run_cli(config, "ingest").exit_code == 0
    assert not list(feeds.glob("bus.*")) and not list(feeds.glob("private/*/hemmelig.*"))
    assert "bus.xml" not in (feeds / "index.html").read_text("utf-8")
    assert "bus.xml" not in (feeds / "feeds.opml").read_text("utf-8")
    assert "bus" not in run_cli(config, "feeds").stdout.split()
    server = make_server(feeds, port=0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as gone:
            urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/bus.xml", timeout=5)
        assert gone.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


# --- try ----------------------------------------------------------------------------------------


def _two_kommuner(tmp_path: Path) -> Path:
    config = write_config(tmp_path)
    (tmp_path / "minutes" / "a.md").write_text(standard_agenda().text(), encoding="utf-8")
    later = Doc(committee="Teknik- og Miljøudvalget", day="10-12-2026").item(1, "Busplan 2028", "26/900")
    (tmp_path / "minutes" / "b.md").write_text(later.text(), encoding="utf-8")
    other = tmp_path / "other"
    other.mkdir()
    (other / "c.md").write_text(standard_agenda().text(), encoding="utf-8")
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[[source]]\nname = "other"\nkommune = "Andeby"\ntype = "folder"\npath = "{other}"\n')
    assert run_cli(config, "ingest").exit_code == 0
    return config


def test_try_filters_by_kommune_committee_and_since(tmp_path: Path) -> None:
    config = _two_kommuner(tmp_path)
    assert run_cli(config, "try", "busplan").stdout.strip().endswith("3 of 9 items match")
    assert run_cli(config, "try", "busplan", "--kommune", "andeby").stdout.strip().endswith("1 of 4 items matches")
    result = run_cli(config, "try", "busplan", "--committee", "teknik")
    assert "Punkt 1: Busplan 2028" in result.stdout and result.stdout.strip().endswith("1 of 1 item matches")
    result = run_cli(config, "try", "busplan", "--since", "2026-12-01", "--kommune", "Testrup")
    assert result.stdout.strip().endswith("1 of 1 item matches")
    unknown = run_cli(config, "try", "busplan", "--kommune", "Nowhere")
    assert unknown.exit_code == 2 and "kommuner with items: Andeby, Testrup" in unknown.stderr
    assert run_cli(config, "try", "busplan", "--since", "1.12.2026").exit_code == 2


def test_try_takes_word_star_as_the_prefix_a_plain_term_already_is(tmp_path: Path) -> None:
    config = _two_kommuner(tmp_path)
    assert run_cli(config, "try", "bus*").stdout == run_cli(config, "try", "bus").stdout
    refused = run_cli(config, "try", "=bus*")
    assert refused.exit_code == 2 and "write '=bus' or 'bus'" in refused.stderr
