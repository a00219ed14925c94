"""The read-only commands: what the store holds (items, events, matches, try), how the bot is
doing (status), the feeds' addresses, and a backup. None of them takes the writer lock."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from bot.cli_help import HasConfig, example, watchlists_in_force
from bot.errors import ConfigError
from bot.match.matcher import Matcher
from bot.match.matches import effective_watchlists, item_text
from bot.match.watchlists import trial_watchlist
from bot.publish.feeds import feed_path
from bot.publish.views import event_json, event_text, item_json, item_line, match_json, match_text, where
from bot.run.pipeline import open_store
from bot.run.status import render_status
from bot.store.models import Meeting, SourceState
from bot.wording import plural

JSON = click.option("--json", "as_json", is_flag=True, help="One JSON object per line (JSON Lines).")


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


@click.command(epilog=example("referatvagt items --json | head -1"))
@JSON
@click.pass_obj
def items(obj: HasConfig, as_json: bool) -> None:
    """List the latest version of every stored agenda item."""
    with open_store(obj.config, read_only=True) as store:
        _echo_rows(store.latest_items(), as_json, item_json, item_line)


@click.command(epilog=example("referatvagt events --json"))
@JSON
@click.pass_obj
def events(obj: HasConfig, as_json: bool) -> None:
    """List change events (new, changed, removed), oldest first."""
    with open_store(obj.config, read_only=True) as store:
        _echo_rows(store.events(), as_json, event_json, event_text)


@click.command(epilog=example("referatvagt matches --watchlist kontanthjaelp --json"))
@click.option("--watchlist", "slug", metavar="SLUG", help="Only this watchlist (its file name without .toml).")
@JSON
@click.pass_obj
def matches(obj: HasConfig, slug: str | None, as_json: bool) -> None:
    """List stored watchlist matches, oldest first.

    Each shows the watchlist, the item, the terms that matched and a snippet with the
    terms in **bold**; --json adds every item field of `items --json`. A SLUG that is
    neither a watchlist file nor a watchlist the store knows is an error (exit 2).
    """
    config = obj.config
    with open_store(config, read_only=True) as store:
        if slug is not None and store.watchlist_state(slug) is None:
            watchlists, _ = effective_watchlists(store, config.bot.watchlists_dir)
            if slug not in {watchlist.slug for watchlist in watchlists}:
                known = ", ".join(sorted(watchlist.slug for watchlist in watchlists)) or "none"
                raise ConfigError(f"no watchlist {slug!r} in {config.bot.watchlists_dir} (watchlists: {known})")
        _echo_rows(store.matches(slug), as_json, match_json, match_text)


TRY_HELP = """Test terms against the stored items before writing them into a watchlist.

Prints every item any of the TERMS matches, with a snippet, and a count. The terms use
the watchlist query language (see the README): kontanthjælp (a word start; kontanthjælp*
means the same), *ledighed (inside a word), =bil (the whole word), IGU (an acronym) and a
phrase in quotes. Several words without quotes around them in one argument are a phrase too.
--kommune, --committee and --since narrow the items as a watchlist's kommuner and committees do.
"""


@click.command(
    "try",
    help=TRY_HELP,
    epilog=example(
        "referatvagt try kontanthjælp '*ledighed' IGU",
        "referatvagt try '\"nyt kontanthjælpssystem\"' 'daginstitution*'",
        "referatvagt try busplan --kommune Lindholm --since 2026-01-01",
    ),
)
@click.argument("terms", nargs=-1, required=True)
@click.option("--kommune", multiple=True, help="Only items of this kommune (repeat for more).")
@click.option("--committee", multiple=True, help="Only committees whose name contains this (repeat for more).")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Only meetings on or after this day (YYYY-MM-DD).",
)
@JSON
@click.pass_obj
def try_command(
    obj: HasConfig,
    terms: tuple[str, ...],
    kommune: tuple[str, ...],
    committee: tuple[str, ...],
    since: datetime | None,
    as_json: bool,
) -> None:
    matcher = Matcher([trial_watchlist(terms)])
    with open_store(obj.config, read_only=True) as store:
        rows = store.latest_items()
    stored = {row[3].kommune.casefold(): row[3].kommune for row in rows}
    if kommune and not any(name.casefold() in stored for name in kommune):
        names = ", ".join(sorted(stored.values())) or "none yet"
        raise ConfigError(f"no stored items of {', '.join(kommune)} (kommuner with items: {names})")
    kept = [row for row in rows if _within(row[2], row[3], kommune, committee, since)]
    found = 0
    for item, version, meeting, source, document in kept:
        for result in matcher.match(item_text(version, meeting, source)):
            found += 1
            if as_json:
                fields = {**item_json(item, version, meeting, source, document), "terms": list(result.terms)}
                _echo_json({**fields, "snippet": result.snippet.marked()})
            else:
                click.echo(f"{where(item.number, version, meeting, source)}\n    {result.snippet.marked()}")
    if not as_json:
        click.echo(f"{found} of {plural(len(kept), 'item')} match{'es' if found == 1 else ''}")


def _within(
    meeting: Meeting,
    source: SourceState,
    kommuner: tuple[str, ...],
    committees: tuple[str, ...],
    since: datetime | None,
) -> bool:
    """The filters of `try`, with the meaning a watchlist's ``kommuner`` and ``committees`` have."""
    if kommuner and source.kommune.casefold() not in {k.casefold() for k in kommuner}:
        return False
    if committees and not any(c.casefold() in meeting.committee.casefold() for c in committees):
        return False
    return since is None or meeting.meeting_date >= since.date()


@click.command(epilog=example("referatvagt status"))
@click.pass_obj
def status(obj: HasConfig) -> None:
    """Show how the bot is doing: per source the last success, last error, failure count,
    next run and items stored; per watchlist its last match; per recipient pending email
    (matches of watchlists that email nobody are not counted as waiting)."""
    with open_store(obj.config, read_only=True) as store:
        click.echo(render_status(store, obj.config))


@click.command(epilog=example("referatvagt backup state-backup.db"))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def backup(obj: HasConfig, target: Path) -> None:
    """Copy the store to TARGET while the bot runs (SQLite's online backup: a consistent copy)."""
    with open_store(obj.config, read_only=True) as store:
        store.backup(target)
    click.echo(f"store copied to {target}")


@click.command("feeds", epilog=example("referatvagt feeds"))
@click.pass_obj
def feeds_command(obj: HasConfig) -> None:
    """List every feed with its subscribe links (RSS and Atom).

    Private watchlists (public = false) are listed with their unguessable address: it is
    printed only here, so the owner can subscribe.
    """
    config = obj.config
    base = config.feeds.base_url
    with open_store(config, read_only=True) as store:
        watchlists, _ = watchlists_in_force(store, config)
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
        path = f"{base}source-{source.name}"
        click.echo(f"source-{source.name} (public) alt fra {source.kommune}\n    {path}.xml\n    {path}.atom")
    click.echo(f"index: {base}index.html  ·  OPML: {base}feeds.opml")


READ_COMMANDS = (items, events, matches, try_command, status, backup, feeds_command)
