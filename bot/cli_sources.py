"""``referatvagt sources …``: the built-in catalogue of kommuner and a check of a portal URL."""

from __future__ import annotations

import sys

import click

from bot.catalogue import find, listing_line, load_catalogue, source_block
from bot.errors import ConfigError
from bot.fetch import Fetcher
from bot.sources.firstagenda import probe as probe_portal


@click.group("sources", epilog="Example: referatvagt sources known Hvidovre")
def sources() -> None:
    """Find where a kommune publishes, and check a portal before adding it as a source."""


@sources.command(epilog="Example: referatvagt sources known Hvidovre >> config.toml")
@click.argument("kommune", required=False)
def known(kommune: str | None) -> None:
    """List the built-in catalogue of the 98 kommuner, or print a [[source]] block for one.

    The list shows each kommune's publishing system (firstagenda is supported), its portal
    host where known, and whether the host was verified; other hosts come from public
    knowledge, so check them with `referatvagt sources probe URL`. With KOMMUNE, prints a
    ready [[source]] block to paste into config.toml.
    """
    if kommune is not None:
        found = find(kommune)
        if found is None:
            raise ConfigError(f"no kommune named {kommune!r} in the catalogue (see `referatvagt sources known`)")
        click.echo(source_block(found))
        return
    catalogue = load_catalogue()
    click.echo(f"{'kommune':<18} {'system':<15} {'host':<36} checked")
    for entry in catalogue:
        click.echo(listing_line(entry))
    portals = [k for k in catalogue if k.url]
    others = [k for k in catalogue if k.system not in ("firstagenda", "unknown")]
    unknown = len(catalogue) - len(portals) - len(others)
    click.echo(
        f"{len(catalogue)} kommuner: {len(portals)} FirstAgenda portals known "
        f"({sum(k.verified for k in portals)} verified), {len(others)} on systems not supported yet, "
        f"{unknown} not known yet"
    )


@sources.command(epilog="Example: referatvagt sources probe https://dagsordener-referater.hvidovre.dk")
@click.argument("url")
def probe(url: str) -> None:
    """Tell whether URL answers like a FirstAgenda portal (exit 1 if not).

    Opens a session (GET /), then reads /api/agenda/udvalgsliste and says how many
    committees and meetings the portal lists. A bare host name means https://.
    """
    with Fetcher() as fetcher:
        result = probe_portal(fetcher, url)
    click.echo(result.message)
    if not result.ok:
        sys.exit(1)
