"""The built-in catalogue of the 98 kommuner and where they publish (``bot/data/kommuner.json``).

Each entry names the source type that reads the kommune's publishing system (``unknown`` where
that is not known), the site's host, the source keys the site needs (``options``), where these
facts come from, and whether this project has itself seen the host answer. The others come from
public observation: ``referatvagt sources probe URL`` checks one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from bot.errors import ConfigError

# The source types that read a kommune's own publishing system, and what each is called.
SYSTEMS = {
    "firstagenda": "FirstAgenda Publication",
    "meetingsplus": "Formpipe Meetings+",
    "aabendagsorden": "Åben Dagsorden",
    "kk-jsonapi": "København's site (JSON:API)",
    "aalborg": "Aalborg's minutes app",
    "frederikssund": "Frederikssund's site",
    "hedensted": "Hedensted's site (SBSYS)",
    "rksk": "Ringkøbing-Skjern's site (eDoc)",
}
KOMMUNER_COUNT = 98
USUAL_HOSTS = ("dagsordener.{}.dk", "dagsorden.{}.dk", "dagsordner.{}.dk")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
_DANISH = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "é": "e", "ü": "u"})


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    region: str
    system: str
    host: str | None = None
    verified: bool = False
    source: str
    options: dict[str, Any] = {}

    @field_validator("system")
    @classmethod
    def _system(cls, value: str) -> str:
        if value != "unknown" and value not in SYSTEMS:
            raise ValueError(f"{value!r} is not a system: one of {', '.join(SYSTEMS)} or 'unknown'")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not _HOST.match(value):
            raise ValueError(f"{value!r} is not a host name (no scheme, no path)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> _Entry:
        if self.verified and self.host is None:
            raise ValueError("verified is true but no host is given")
        if (self.system == "unknown") != (self.host is None):
            raise ValueError("a known system needs a host, and an unknown one has none")
        return self


class _Catalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    about: str
    kommuner: tuple[_Entry, ...]


@dataclass(frozen=True)
class Kommune:
    name: str
    region: str
    system: str
    host: str | None
    verified: bool
    source: str
    options: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def url(self) -> str | None:
        """The site's base URL, when the kommune's system has an adapter and its host is known."""
        return f"https://{self.host}" if self.system in SYSTEMS and self.host else None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "region": self.region,
            "system": self.system,
            "host": self.host,
            "url": self.url,
            "verified": self.verified,
            "source": self.source,
            "options": self.options,
            "source_name": slug(self.name),
        }


def load_catalogue(text: str | None = None) -> tuple[Kommune, ...]:
    """Every kommune, validated: 98 entries with unique names. ``text`` replaces the bundled file."""
    if text is None:
        return _bundled()
    return _parse(text)


@cache
def _bundled() -> tuple[Kommune, ...]:
    return _parse(files("bot").joinpath("data", "kommuner.json").read_text(encoding="utf-8"))


def _parse(text: str) -> tuple[Kommune, ...]:
    try:
        catalogue = _Catalogue.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"bot/data/kommuner.json: invalid catalogue: {exc}") from exc
    names = [entry.name for entry in catalogue.kommuner]
    if len(names) != KOMMUNER_COUNT or len({fold(name) for name in names}) != len(names):
        raise ConfigError(f"bot/data/kommuner.json: expected {KOMMUNER_COUNT} kommuner with unique names")
    kommuner = (Kommune(**entry.model_dump()) for entry in catalogue.kommuner)
    return tuple(sorted(kommuner, key=lambda k: danish_order(k.name)))


def fold(name: str) -> str:
    """A kommune's name for lookups: case, 'Kommune', spacing and aa/å folded."""
    name = " ".join(name.casefold().split())
    name = re.sub(r"\s+(?:regions)?kommune$", "", name)
    return name.replace("aa", "å")


def danish_order(name: str) -> str:
    """Sort key for Danish names: æ, ø, å (and aa) after z."""
    return fold(name).replace("æ", "{").replace("ø", "|").replace("å", "}")


def find(name: str) -> Kommune | None:
    key = fold(name)
    for kommune in load_catalogue():
        if fold(kommune.name) in (key, key.removesuffix("s"), f"{key}s"):  # Nordfyn(s), Bornholm(s)
            return kommune
    return None


def site_defaults(name: str, source_type: str) -> dict[str, Any]:
    """``url`` and the site's options for a source of ``source_type`` that names a kommune but no
    url; ``ValueError`` says why the catalogue cannot give them."""
    kommune = find(name)
    if kommune is None:
        raise ValueError(f'no url given, and {name!r} is not a kommune in the catalogue; add url = "https://…"')
    if kommune.system == source_type and kommune.url is not None:
        return {"url": kommune.url, **kommune.options}
    what = f"it publishes with {kommune.system}"
    if kommune.system == "unknown":
        what = "where it publishes is not known"
    raise ValueError(
        f"no url given, and the catalogue has no {source_type} site for {kommune.name} ({what}); "
        f'add url = "https://…" (see `referatvagt sources known {kommune.name}`)'
    )


def slug(name: str) -> str:
    """A source name for a kommune: ``København`` → ``koebenhavn``."""
    return re.sub(r"[^a-z0-9]+", "-", name.casefold().translate(_DANISH)).strip("-")


def listing_line(kommune: Kommune) -> str:
    checked = "verified" if kommune.verified else "not verified" if kommune.host else ""
    return f"{kommune.name:<18} {kommune.system:<15} {kommune.host or '-':<36} {checked}".rstrip()


_FILTERS = (
    '# committees = ["Økonomiudvalget"]   # only committees whose name contains one of these\n'
    '# since = "2026-01-01"               # default: the meetings of the last 180 days'
)
_OPTION_NOTES = {
    "committee_ids": "the app's committee ids change when a new council constitutes itself",
    "date_format": "how the site writes dates in its search",
    "skip_committees": "a test committee the site lists",
}


def source_block(kommune: Kommune) -> str:
    """A ready ``[[source]]`` block for the config, with what is known and what to check."""
    header = [f'[[source]]\nname = "{slug(kommune.name)}"\nkommune = "{kommune.name}"']
    if kommune.url is None:
        return _unknown_block(kommune, header)
    system = SYSTEMS[kommune.system]
    if kommune.verified:
        note = f"# {kommune.name}: {system} on {kommune.host}, host verified."
    else:
        note = (
            f"# {kommune.name}: {system} on {kommune.host}, from {kommune.source}; not verified.\n"
            f"# Check it first: referatvagt sources probe {kommune.url}"
        )
    options = [
        f"{key} = {json.dumps(value, ensure_ascii=False)}   # {_OPTION_NOTES.get(key, 'needed by this site')}"
        for key, value in kommune.options.items()
    ]
    return "\n".join([note, *header, f'type = "{kommune.system}"', f'url = "{kommune.url}"', *options, _FILTERS])


def _unknown_block(kommune: Kommune, header: list[str]) -> str:
    base = slug(kommune.name).replace("-", "")
    guesses = [f"https://{pattern.format(base)}" for pattern in USUAL_HOSTS]
    lines = [
        f"# {kommune.name}: the catalogue does not know where it publishes ({kommune.source}).",
        "# Most kommuner publish through FirstAgenda Publication on one of these hosts; try them,",
        "# and uncomment the one that answers (probe recognises every supported system):",
        *(f"#   referatvagt sources probe {guess}" for guess in guesses),
        "# If none answers, find the kommune's minutes page: an http-index source can follow its links",
        '# (type = "http-index", url = "<the page>", link_pattern = "referat.*\\\\.pdf$").',
        *header,
        'type = "firstagenda"',
        *(f'# url = "{guess}"' for guess in guesses),
        _FILTERS,
    ]
    return "\n".join(lines)
