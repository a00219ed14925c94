"""The command line: a thin layer over the pipeline; user mistakes are one line, not a traceback.

Exit codes: 0 all went well; 1 a document, the feeds or an email failed (the rest was done);
2 a configuration or database error (nothing was done); 3 the run was done, but a watchlist
file has an error (the other watchlists, and the last valid version of an edited one, were used).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from bot import __version__
from bot.addresses import addr_spec
from bot.cli_case import case as case_command
from bot.cli_help import example, exit_after_sending, watchlists_in_force
from bot.cli_notify import notify as notify_command
from bot.cli_read import READ_COMMANDS
from bot.cli_sources import sources as sources_group
from bot.config import Config, find_config_file, load_config, missing_folders
from bot.errors import BotError, os_reason
from bot.match.watchlists import load_watchlists
from bot.publish.digest import send_due, send_test, write_dry_run
from bot.publish.feeds import feed_links, write_if_changed
from bot.publish.page_view import FeedLink
from bot.publish.pages import PagesOnRequest
from bot.publish.search_web import SearchApp
from bot.publish.serve import serve as serve_feeds
from bot.run.lock import writer_lock
from bot.run.pipeline import Progress, open_store, run_cycle
from bot.run.report import RunReport
from bot.run.scheduler import Bot, configure_logging, run_once
from bot.store import utcnow
from bot.wording import plural

EXIT_CODES = (
    "Exit code 1 if a document, the feeds or an email failed; 2 for a configuration or database "
    "error; 3 if the run was done but a watchlist file has an error; 130 if stopped by Ctrl-C."
)
STOPPED = "stopped (Ctrl-C): what was stored is kept, and what was not is read, matched and published at the next run"


class _Context:
    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(find_config_file(self.config_path))
        return self._config


pass_context = click.make_pass_decorator(_Context)


class _UserError(click.ClickException):
    exit_code = 2


class _Group(click.Group):
    """Turns a :class:`BotError` from any command into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BotError as exc:
            raise _UserError(str(exc)) from exc


@click.group(
    cls=_Group,
    epilog=example(
        "referatvagt --config my.toml ingest",
        note="Without --config, config.toml in the current folder is used if present, "
        "else the sample minutes bundled with the bot.",
    ),
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="REFERATVAGT_CONFIG",
    help="Config file (TOML). Also: environment variable REFERATVAGT_CONFIG.",
)
@click.version_option(__version__, prog_name="referatvagt")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """referatvagt: follow Danish municipal agendas and minutes and get told what changed."""
    ctx.obj = _Context(config_path)


SEND_BACKFILL = click.option(
    "--send-backfill",
    is_flag=True,
    help="Also email the matches of a source's first ingest (normally they only go to the feeds).",
)


@cli.command(
    "ingest",
    help=f"""Poll every configured source once, store what is new or changed, match the
    watchlists, regenerate the feeds and send immediate email digests.

    Prints one summary line (documents read, items new/changed/removed, matches, emails,
    errors); each error names the file and the reason. {EXIT_CODES}
    """,
    epilog=example("referatvagt ingest"),
)
@SEND_BACKFILL
@pass_context
def ingest_command(ctx: _Context, send_backfill: bool) -> None:
    with _stoppable(), writer_lock(ctx.config), open_store(ctx.config) as store:
        report = run_cycle(ctx.config, store, send_backfill=send_backfill, progress=terminal_progress())
    _end_progress()
    _finish(report)


@contextmanager
def _stoppable() -> Iterator[None]:
    """Ctrl-C ends `ingest` and `run --once` with a line saying what it means (each batch of
    documents, digest and feed is written in a transaction or atomically: nothing is half-done)."""
    try:
        yield
    except KeyboardInterrupt:
        _end_progress()
        click.echo(STOPPED, err=True)
        sys.exit(130)


def _finish(report: RunReport) -> None:
    """The end of `ingest` and `run --once`: every error and warning, the summary, the exit code."""
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(report.summary())
    sys.exit(report.exit_code)


def _one_address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        return None if value is None else addr_spec(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command(
    "digest",
    epilog=example(
        "referatvagt digest --now",
        "referatvagt digest --retry-failed",
        "referatvagt digest --dry-run out/",
        "referatvagt digest --test you@example.org",
    ),
)
@click.option(
    "--now",
    "right_now",
    is_flag=True,
    help="Send every pending match at once, ignoring schedule and backoff (each digest at most once a minute).",
)
@click.option("--retry-failed", is_flag=True, help="Also send the digests that used up their attempts (see `status`).")
@click.option(
    "--dry-run",
    "dry_run",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write .eml files here; send nothing.",
)
@click.option(
    "--test",
    "test_address",
    metavar="ADDRESS",
    callback=_one_address,
    help="Send a sample digest to ADDRESS to check the settings.",
)
@pass_context
def digest_command(
    ctx: _Context, right_now: bool, retry_failed: bool, dry_run: Path | None, test_address: str | None
) -> None:
    """Build the email digests that are due and send them (with retries of earlier failures).

    Daily digests are due at [email] daily_at, weekly ones on weekly_on; the scheduler
    (`referatvagt run`) calls this at those times. --now sends all pending matches at once
    as their own digest. --dry-run writes the messages as .eml files and changes nothing.
    --retry-failed sends again, as the same messages, the digests that used up their attempts.
    Exit code 1 if a digest failed, 3 if only a watchlist file has an error.
    """
    config = ctx.config
    if test_address:
        click.echo(send_test(config, test_address))
        return
    now = utcnow()
    with writer_lock(config), open_store(config) as store:
        watchlists, errors = watchlists_in_force(store, config)
        if dry_run is not None:
            written = write_dry_run(store, config, watchlists, now, right_now, dry_run)
            click.echo(f"{plural(len(written), 'digest')} written to {dry_run}; nothing sent")
            return
        report = send_due(store, config, watchlists, now, right_now, retry_failed)
    exit_after_sending(report, errors)


@cli.command(
    "run",
    epilog=example("referatvagt run --once   # one cycle, e.g. from cron", "referatvagt run          # as a service"),
)
@click.option("--once", is_flag=True, help="One full cycle (all sources, matching, feeds, due digests), then exit.")
@SEND_BACKFILL
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
@pass_context
def run_command(ctx: _Context, once: bool, send_backfill: bool, verbose: bool) -> None:
    """Run the bot: poll every source on its interval, match, publish feeds, send digests.

    Runs until SIGTERM or Ctrl-C (the current job finishes first); log lines are stamped in
    [bot] timezone. On SQLite, one writer per state folder: while `run` works, `ingest`,
    `digest` and a second `run` refuse to start (they say another process is using the folder,
    exit code 2); the read-only commands work. On PostgreSQL any number of `run` workers share
    the database, each poll and email done by one of them (see docs/deploy.md). With --once:
    one cycle, for cron and tests, with the exit codes of `ingest`.
    """
    config = ctx.config
    configure_logging(config.bot.zone, verbose)
    with writer_lock(config):
        if once:
            with _stoppable(), open_store(config) as store:
                report = run_once(config, store, send_backfill, progress=terminal_progress())
            _end_progress()
            _finish(report)
        bot = Bot(find_config_file(ctx.config_path), config)
        bot.start()
        bot.wait()


@cli.command(epilog=example("referatvagt --config config.toml check"))
@pass_context
def check(ctx: _Context) -> None:
    """Validate the config (and that each folder source's folder exists) and every watchlist.

    Each error names the file, the line and the key. Exit code 2 if the config has an
    error, 1 if only a watchlist has.
    """
    config = ctx.config
    problems = missing_folders(config)
    watchlists, errors = load_watchlists(config.bot.watchlists_dir)
    for error in problems + errors:
        click.echo(f"error: {error}", err=True)
    verdict = plural(len(problems), "error") if problems else "OK"
    click.echo(f"config: {config.origin or 'built-in defaults'}: {verdict}, {plural(len(config.sources), 'source')}")
    folder = config.bot.watchlists_dir
    if not folder.is_dir():
        click.echo(f"watchlists: no folder {folder}: nothing will be matched")
    else:
        click.echo(f"watchlists in {folder}: {len(watchlists)} OK, {len(errors)} with errors")
    sys.exit(2 if problems else 1 if errors else 0)


@cli.command(epilog="Example: referatvagt serve --port 8080")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@pass_context
def serve(ctx: _Context, host: str, port: int) -> None:
    """Serve the feed folder over HTTP (feeds, index.html, feeds.opml, item pages), and the search
    page /search with a feed per search, /search.xml?q=..., which only read the store.

    An item page no feed has linked yet (items/<uid>.html, e.g. from a search) is made from the
    store when asked for and written into the folder. Any web server can serve the folder
    instead: the feeds and pages are plain files.
    """
    config = ctx.config
    search = SearchApp(config, lambda: open_store(config, read_only=True))

    def links() -> list[FeedLink]:  # read at each request: watchlists may have changed since serve started
        return feed_links(config, load_watchlists(config.bot.watchlists_dir)[0])

    make = PagesOnRequest(config, search.store, links, write_if_changed)
    try:
        serve_feeds(config.feed_folder, host, port, pages=search.pages(), make=make)
    finally:
        search.close()


cli.add_command(sources_group)
cli.add_command(notify_command)
cli.add_command(case_command)
for _command in READ_COMMANDS:
    cli.add_command(_command)


def terminal_progress() -> Progress | None:
    """A status line on a terminal for long backfills ("gladsaxe: 120/480 documents"); else none."""
    if not sys.stderr.isatty():
        return None

    def show(source: str, done: int, listed: int | None) -> None:
        total = f"/{listed}" if listed else ""
        click.echo(f"\r{source}: {done}{total} documents fetched\033[K", err=True, nl=False)

    return show


def _end_progress() -> None:
    if sys.stderr.isatty():
        click.echo("\r\033[K", err=True, nl=False)


def main() -> None:
    """Entry point of the ``referatvagt`` script and ``python -m bot``."""
    try:
        cli(prog_name="referatvagt")
    except OSError as exc:  # the last guard: a file or folder no layer below expected to fail
        path = f"{exc.filename}: " if exc.filename is not None else ""
        click.echo(
            f"Error: {path}{os_reason(exc)}: check that it exists, that referatvagt may use it "
            "(owner and permissions) and that its disk has free space",
            err=True,
        )
        sys.exit(2)
