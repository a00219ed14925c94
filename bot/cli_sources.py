"""``referatvagt sources …``: the built-in catalogue of kommuner, the configured sources, and a
check of a site's address."""

from __future__ import annotations

import json
import sys
from typing import Any
from urllib.parse import urlsplit

import click

from bot.catalogue import SYSTEMS, Kommune, find, listing_line, load_catalogue, source_block
from bot.cli_help import HasConfig, example
from bot.errors import ConfigError
from bot.fetch import Fetcher
from bot.sources.base import HttpSource, source_class


@click.group("sources", epilog=example("referatvagt sources known Hvidovre"))
def sources() -> None:
    """Find where a kommune publishes, check a site before adding it, list the configured sources."""


@sources.command(epilog=example("referatvagt sources known Billund >> config.toml"))
@click.argument("kommune", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per kommune (name, system, host, …).")
def known(kommune: str | None, as_json: bool) -> None:
    """List the built-in catalogue of the 98 kommuner, or print a [[source]] block for one.

    The list shows the source type that reads each kommune's publishing system, the site's
    host, and whether this project has seen the host answer; the other hosts come from public
    observation, so check them with `referatvagt sources probe URL`. With KOMMUNE, prints a
    ready [[source]] block to paste into config.toml. To watch every kommune at once, put
    kommuner = ["*"] in one [[source]] block.
    """
    if kommune is not None:
        found = find(kommune)
        if found is None:
            raise ConfigError(f"no kommune named {kommune!r} in the catalogue (see `referatvagt sources known`)")
        click.echo(json.dumps(found.as_json(), ensure_ascii=False) if as_json else source_block(found))
        return
    catalogue = load_catalogue()
    if as_json:
        for entry in catalogue:
            click.echo(json.dumps(entry.as_json(), ensure_ascii=False))
        return
    click.echo(f"{'kommune':<18} {'system':<15} {'host':<36} checked")
    for entry in catalogue:
        click.echo(listing_line(entry))
    click.echo(_summary(catalogue))


def _summary(catalogue: tuple[Kommune, ...]) -> str:
    served = [k for k in catalogue if k.url]
    firstagenda = sum(k.system == "firstagenda" for k in served)
    unknown = [k.name for k in catalogue if k.url is None]
    return (
        f"{len(catalogue)} kommuner: {len(served)} can be watched ({firstagenda} FirstAgenda, "
        f"{len(served) - firstagenda} on other systems; {sum(k.verified for k in served)} verified); "
        f"not known: {', '.join(unknown) or 'none'}"
    )


@sources.command("list", epilog=example("referatvagt --config national.toml sources list --json"))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source (name, kommune, type, url).")
@click.pass_obj
def list_sources(obj: HasConfig, as_json: bool) -> None:
    """Print the configured sources, after kommuner = [...] blocks are expanded into one per kommune."""
    for source in obj.config.sources:
        row = _row(source)
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(f"{row['name']:<20} {row['kommune']:<18} {row['type']:<15} {row['url']}")


def _row(source: Any) -> dict[str, Any]:
    where = getattr(source, "url", None) or str(getattr(source, "path", ""))
    return {"name": source.name, "kommune": source.kommune, "type": source.type, "url": where}


@sources.command(epilog=example("referatvagt sources probe https://dagsordener-referater.hvidovre.dk"))
@click.argument("url")
def probe(url: str) -> None:
    """Tell which supported publishing system answers at URL (exit 1 if none does).

    Each system is recognised by its own endpoint (FirstAgenda's committee list, Meetings+'s
    overview, Åben Dagsorden's meeting search, …), tried first for the system the catalogue
    names for the host. Says what the site lists. A bare host name means https://.
    """
    base = site_root(url)
    failures = []
    with Fetcher() as fetcher:
        for system in probe_order(base):
            adapter = source_class(system)
            assert issubclass(adapter, HttpSource)
            result = adapter.probe(fetcher, base)
            if result.ok:
                click.echo(f'{result.message}\n(type = "{system}")')
                return
            failures.append(f"  {system}: {result.message}")
    click.echo(f"{base} does not answer like any supported system:\n" + "\n".join(failures))
    sys.exit(1)


def site_root(url: str) -> str:
    """``dagsordener.x.dk`` or ``https://www.x.dk/politik/`` → ``https://dagsordener.x.dk``."""
    url = url.strip()
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return f"{parts.scheme}://{parts.netloc}"


def probe_order(base: str) -> list[str]:
    """Every system, the one the catalogue names for this host first."""
    host = urlsplit(base).hostname or ""
    named = next((k.system for k in load_catalogue() if k.host == host and k.system in SYSTEMS), "firstagenda")
    return [named, *(system for system in SYSTEMS if system != named)]
