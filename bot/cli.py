"""The command line: a thin layer over the pipeline; user mistakes are one line, not a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bot import __version__
from bot.config import Config, find_config_file, load_config
from bot.diff import render_diff
from bot.errors import BotError
from bot.models import Document, Event, Item, ItemVersion, Meeting, SourceState
from bot.pipeline import open_store, run_cycle


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


@cli.command("ingest", epilog="Example: referatvagt ingest")
@pass_context
def ingest_command(ctx: _Context) -> None:
    """Poll every configured source once and store what is new or changed.

    Prints one summary line (documents read, items new/changed/removed, errors);
    each error names the file and the reason. Exits 1 if any document failed.
    """
    with open_store(ctx.config) as store:
        report = run_cycle(ctx.config, store)
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    click.echo(report.summary())
    if report.errors:
        sys.exit(1)


@cli.command(epilog="Example: referatvagt items --json | head -1")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (JSON Lines).")
@pass_context
def items(ctx: _Context, as_json: bool) -> None:
    """List the latest version of every stored agenda item."""
    with open_store(ctx.config) as store:
        rows = store.latest_items()
    for row in rows:
        click.echo(json.dumps(item_json(*row), ensure_ascii=False) if as_json else _item_line(*row))


@cli.command(epilog="Example: referatvagt events --json")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (JSON Lines).")
@pass_context
def events(ctx: _Context, as_json: bool) -> None:
    """List change events (new, changed, removed), oldest first."""
    with open_store(ctx.config) as store:
        rows = store.events()
    for row in rows:
        click.echo(json.dumps(event_json(*row), ensure_ascii=False) if as_json else _event_text(*row))


def _where(number: int | None, version: ItemVersion, meeting: Meeting, source: SourceState) -> str:
    day = meeting.meeting_date.strftime("%d.%m.%Y")
    return f"{source.kommune} · {meeting.committee} {day} · Punkt {number}: {version.title}"


def _item_line(item: Item, version: ItemVersion, meeting: Meeting, source: SourceState, _: Document) -> str:
    flags = [f"v{version.version}", version.doc_kind]
    if version.closed:
        flags.append("lukket")
    if version.decision:
        flags.append("beslutning")
    if item.removed:
        flags.append("udgået")
    return f"{_where(item.number, version, meeting, source)}  [{', '.join(flags)}]"


def _event_text(event: Event, item: Item, version: ItemVersion, meeting: Meeting, source: SourceState) -> str:
    label = "decision added" if event.decision_added else event.kind
    lines = [f"{label:<15} {_where(version.number, version, meeting, source)}"]
    if event.kind == "changed" and event.changed_sections:
        lines.append(f"{'':<15} sections: {', '.join(event.changed_sections)}")
        lines.extend(f"{'':<15} {line}" for line in render_diff(event.diff).splitlines())
    return "\n".join(lines)


def item_json(
    item: Item, version: ItemVersion, meeting: Meeting, source: SourceState, document: Document
) -> dict[str, Any]:
    return {
        "source": source.name,
        "kommune": source.kommune,
        "committee": meeting.committee,
        "meeting_date": meeting.meeting_date.isoformat(),
        "meeting_start": meeting.start_time,
        "place": meeting.place,
        "doc_kind": version.doc_kind,
        "number": item.number,
        "title": version.title,
        "case_number": version.case_number,
        "closed": version.closed,
        "removed": item.removed,
        "decision": version.decision,
        "decisions": version.decisions,
        "sections": dict((heading, text) for heading, text in version.sections),
        "attachments": version.attachments,
        "version": version.version,
        "content_hash": version.content_hash,
        "url": version.url,
        "document": {
            "key": document.key,
            "raw_sha256": document.raw_sha256,
            "fetched_at": document.fetched_at.isoformat(),
        },
    }


def event_json(event: Event, item: Item, version: ItemVersion, meeting: Meeting, source: SourceState) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "source": source.name,
        "kommune": source.kommune,
        "committee": meeting.committee,
        "meeting_date": meeting.meeting_date.isoformat(),
        "number": version.number,
        "title": version.title,
        "case_number": version.case_number,
        "version": version.version,
        "changed_sections": event.changed_sections,
        "decision_added": event.decision_added,
        "diff": render_diff(event.diff),
        "diff_ops": event.diff,
        "backfill": event.backfill,
        "created_at": event.created_at.isoformat(),
    }


def main() -> None:
    """Entry point of the ``referatvagt`` script and ``python -m bot``."""
    cli(prog_name="referatvagt")
