"""The command line: a thin layer over the pipeline; user mistakes are one line, not a traceback."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from bot import __version__
from bot.addresses import addr_spec
from bot.cli_sources import sources as sources_group
from bot.config import Config, find_config_file, load_config
from bot.digest import send_due, send_test, write_dry_run
from bot.errors import BotError, os_reason
from bot.feeds import feed_path
from bot.lock import writer_lock
from bot.match import Matcher
from bot.matches import effective_watchlists, item_text
from bot.pipeline import Progress, open_store, run_cycle
from bot.scheduler import Bot, run_once
from bot.serve import serve as serve_feeds
from bot.status import render_status
from bot.store import utcnow
from bot.views import event_json, event_text, item_json, item_line, match_json, match_text, where
from bot.watchlists import load_watchlists, trial_watchlist


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
    epilog="Example: referatvagt --config my.toml ingest\n\n"
    "Without --config, config.toml in the current folder is used if present, "
    "else the sample minutes bundled with the bot.",
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


@cli.command("ingest", epilog="Example: referatvagt ingest")
@SEND_BACKFILL
@pass_context
def ingest_command(ctx: _Context, send_backfill: bool) -> None:
    """Poll every configured source once, store what is new or changed, match the
    watchlists, regenerate the feeds and send immediate email digests.

    Prints one summary line (documents read, items new/changed/removed, matches, emails,
    errors); each error names the file and the reason. Exits 1 if anything failed.
    """
    with writer_lock(ctx.config), open_store(ctx.config) as store:
        report = run_cycle(ctx.config, store, send_backfill=send_backfill, progress=terminal_progress())
    _end_progress()
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(report.summary())
    if report.errors:
        sys.exit(1)


def _echo_json(fields: dict[str, Any]) -> None:
    click.echo(json.dumps(fields, ensure_ascii=False))


def _echo_rows(
    rows: Iterable[tuple[Any, ...]],
    as_json: bool,
    as_fields: Callable[..., dict[str, Any]],
    as_text: Callable[..., str],
) -> None:
    """One line (or JSON object) per stored row, shaped by the row's own printers in views.py."""
    for row in rows:
        if as_json:
            _echo_json(as_fields(*row))
        else:
            click.echo(as_text(*row))


@cli.command(epilog="Example: referatvagt items --json | head -1")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (JSON Lines).")
@pass_context
def items(ctx: _Context, as_json: bool) -> None:
    """List the latest version of every stored agenda item."""
    with open_store(ctx.config, read_only=True) as store:
        _echo_rows(store.latest_items(), as_json, item_json, item_line)


@cli.command(epilog="Example: referatvagt events --json")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (JSON Lines).")
@pass_context
def events(ctx: _Context, as_json: bool) -> None:
    """List change events (new, changed, removed), oldest first."""
    with open_store(ctx.config, read_only=True) as store:
        _echo_rows(store.events(), as_json, event_json, event_text)


@cli.command(epilog="Example: referatvagt matches --watchlist kontanthjaelp --json")
@click.option("--watchlist", "slug", metavar="SLUG", help="Only this watchlist (its file name without .toml).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (JSON Lines).")
@pass_context
def matches(ctx: _Context, slug: str | None, as_json: bool) -> None:
    """List stored watchlist matches, oldest first.

    Each shows the watchlist, the item, the terms that matched and a snippet with the
    terms in **bold**; --json adds every item field of `items --json`.
    """
    with open_store(ctx.config, read_only=True) as store:
        _echo_rows(store.matches(slug), as_json, match_json, match_text)


@cli.command("try", epilog='Example: referatvagt try kontanthjælp "*ledighed" \'"nyt kontanthjælpssystem"\' IGU')
@click.argument("terms", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (JSON Lines).")
@pass_context
def try_command(ctx: _Context, terms: tuple[str, ...], as_json: bool) -> None:
    """Test terms against the stored items before writing them into a watchlist.

    Prints every item any of the TERMS matches, with a snippet, and a count. The terms use
    the watchlist query language (see the README): kontanthjælp, *ledighed, =bil, IGU, "a b".
    """
    watchlist = trial_watchlist(terms)
    matcher = Matcher([watchlist])
    with open_store(ctx.config, read_only=True) as store:
        rows = store.latest_items()
    found = 0
    for item, version, meeting, source, document in rows:
        for result in matcher.match(item_text(version, meeting, source)):
            found += 1
            if as_json:
                fields = {**item_json(item, version, meeting, source, document), "terms": list(result.terms)}
                _echo_json({**fields, "snippet": result.snippet.marked()})
            else:
                click.echo(f"{where(item.number, version, meeting, source)}\n    {result.snippet.marked()}")
    if not as_json:
        click.echo(f"{found} of {len(rows)} items match")


def _one_address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        return None if value is None else addr_spec(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command(
    "digest", epilog="Example: referatvagt digest --now   (or: referatvagt digest --retry-failed, or --dry-run out/)"
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
    """
    config = ctx.config
    if test_address:
        click.echo(send_test(config, test_address))
        return
    now = utcnow()
    with writer_lock(config), open_store(config) as store:
        watchlists, errors = effective_watchlists(store, config.bot.watchlists_dir)
        for error in errors:
            click.echo(f"error: {error}", err=True)
        if dry_run is not None:
            written = write_dry_run(store, config, watchlists, now, right_now, dry_run)
            click.echo(f"{len(written)} digests written to {dry_run}; nothing sent")
            return
        report = send_due(store, config, watchlists, now, right_now, retry_failed)
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    click.echo(report.summary())
    if errors or report.errors:
        sys.exit(1)


@cli.command("run", epilog="Example: referatvagt run --once   (or, as a service: referatvagt run)")
@click.option("--once", is_flag=True, help="One full cycle (all sources, matching, feeds, due digests), then exit.")
@SEND_BACKFILL
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
@pass_context
def run_command(ctx: _Context, once: bool, send_backfill: bool, verbose: bool) -> None:
    """Run the bot: poll every source on its interval, match, publish feeds, send digests.

    Runs until SIGTERM or Ctrl-C (the current job finishes first). One `run` per state
    folder; `ingest` and `digest` wait their turn. With --once: one cycle, for cron and tests.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbose else logging.WARNING)
    config = ctx.config
    with writer_lock(config):
        if once:
            with open_store(config) as store:
                report = run_once(config, store, send_backfill, progress=terminal_progress())
            _end_progress()
            for error in report.errors:
                click.echo(f"error: {error}", err=True)
            for warning in report.warnings:
                click.echo(f"warning: {warning}", err=True)
            click.echo(report.summary())
            sys.exit(1 if report.errors else 0)
        bot = Bot(find_config_file(ctx.config_path), config)
        bot.start()
        bot.wait()


@cli.command(epilog="Example: referatvagt status")
@pass_context
def status(ctx: _Context) -> None:
    """Show how the bot is doing: per source the last success, last error, failure count,
    next run and items stored; per watchlist its last match; per recipient pending email."""
    with open_store(ctx.config, read_only=True) as store:
        click.echo(render_status(store, ctx.config))


@cli.command(epilog="Example: referatvagt backup state-backup.db")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def backup(ctx: _Context, target: Path) -> None:
    """Copy the store to TARGET while the bot runs (SQLite's online backup: a consistent copy)."""
    with open_store(ctx.config, read_only=True) as store:
        store.backup(target)
    click.echo(f"store copied to {target}")


@cli.command("feeds", epilog="Example: referatvagt feeds")
@pass_context
def feeds_command(ctx: _Context) -> None:
    """List every feed with its subscribe links (RSS and Atom).

    Private watchlists (public = false) are listed with their unguessable address: it is
    printed only here, so the owner can subscribe.
    """
    config = ctx.config
    base = config.feeds.base_url
    with open_store(config, read_only=True) as store:
        watchlists, errors = effective_watchlists(store, config.bot.watchlists_dir)
        for error in errors:
            click.echo(f"error: {error}", err=True)
        for watchlist in watchlists:
            if not watchlist.deliver.feed:
                continue
            state = store.watchlist_state(watchlist.slug)
            if not watchlist.public and state is None:
                click.echo(f"{watchlist.slug} (private): run `referatvagt ingest` once to create its address")
                continue
            path = feed_path(watchlist, state.token if state else None)
            label = "private" if not watchlist.public else "public"
            click.echo(f"{watchlist.slug} ({label}) {watchlist.name}\n    {base}{path}.xml\n    {base}{path}.atom")
    for source in config.sources:
        click.echo(f"source-{source.name} (public) alt fra {source.kommune}\n    {base}source-{source.name}.xml")
    click.echo(f"index: {base}index.html  ·  OPML: {base}feeds.opml")


@cli.command(epilog="Example: referatvagt --config config.toml check")
@pass_context
def check(ctx: _Context) -> None:
    """Validate the config and every watchlist; exit 1 if any has an error.

    Each error names the file, the line and the key.
    """
    config = ctx.config
    watchlists, errors = load_watchlists(config.bot.watchlists_dir)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    click.echo(f"config: {config.origin or 'built-in defaults'}: OK, {len(config.sources)} sources")
    folder = config.bot.watchlists_dir
    if not folder.is_dir():
        click.echo(f"watchlists: no folder {folder}: nothing will be matched")
    else:
        click.echo(f"watchlists in {folder}: {len(watchlists)} OK, {len(errors)} with errors")
    if errors:
        sys.exit(1)


@cli.command(epilog="Example: referatvagt serve --port 8080")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@pass_context
def serve(ctx: _Context, host: str, port: int) -> None:
    """Serve the feed folder over HTTP (feeds, index.html, feeds.opml).

    Any web server can serve the folder instead: the feeds are plain files.
    """
    serve_feeds(ctx.config.bot.state_dir / "feeds", host, port)


cli.add_command(sources_group)


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
