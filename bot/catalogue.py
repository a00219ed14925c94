"""The built-in catalogue of the 98 kommuner and where they publish (``bot/data/kommuner.json``).

Each entry names the system a kommune publishes with (``firstagenda`` is supported; other
systems are listed by name, ``unknown`` where it is not known), the portal host where it is
known, and whether that host was verified against responses this project captured. Hosts from
public knowledge are not verified: ``referatvagt sources probe URL`` checks one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from bot.errors import ConfigError

SUPPORTED = frozenset({"firstagenda"})
KOMMUNER_COUNT = 98
USUAL_HOSTS = ("dagsordener.{}.dk", "dagsorden.{}.dk", "dagsordner.{}.dk")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
_SYSTEM = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_DANISH = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "é": "e", "ü": "u"})


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    region: str
    system: str
    host: str | None = None
    verified: bool = False
    note: str | None = None

    @field_validator("system")
    @classmethod
    def _system(cls, value: str) -> str:
        if not _SYSTEM.match(value):
            raise ValueError(f"{value!r} is not a system id (lower-case letters, digits, '.', '-')")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not _HOST.match(value):
            raise ValueError(f"{value!r} is not a host name (no scheme, no path)")
        return value

    @model_validator(mode="after")
    def _verified_needs_host(self) -> _Entry:
        if self.verified and self.host is None:
            raise ValueError("verified is true but no host is given")
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
    note: str | None

    @property
    def supported(self) -> bool:
        return self.system in SUPPORTED

    @property
    def url(self) -> str | None:
        """The portal's base URL, when the kommune is on a supported system with a known host."""
        return f"https://{self.host}" if self.supported and self.host else None


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


def firstagenda_url(name: str) -> str:
    """The FirstAgenda portal of a kommune by name; ``ValueError`` says why there is none."""
    kommune = find(name)
    if kommune is None:
        raise ValueError(f'no url given, and {name!r} is not a kommune in the catalogue; add url = "https://…"')
    if kommune.url is None:
        what = "its portal host is not known" if kommune.supported else f"it publishes with {kommune.system}"
        if kommune.system == "unknown":
            what = "where it publishes is not known"
        raise ValueError(
            f"no url given, and the catalogue has no FirstAgenda portal for {kommune.name} ({what}); "
            f'add url = "https://…" (see `referatvagt sources known {kommune.name}`)'
        )
    return kommune.url


def slug(name: str) -> str:
    """A source name for a kommune: ``København`` → ``koebenhavn``."""
    return re.sub(r"[^a-z0-9]+", "-", name.casefold().translate(_DANISH)).strip("-")


def listing_line(kommune: Kommune) -> str:
    checked = "verified" if kommune.verified else "not verified" if kommune.host else ""
    return f"{kommune.name:<18} {kommune.system:<15} {kommune.host or '-':<36} {checked}".rstrip()


def source_block(kommune: Kommune) -> str:
    """A ready ``[[source]]`` block for the config, with what is known and what to check."""
    header = [f'[[source]]\nname = "{slug(kommune.name)}"\nkommune = "{kommune.name}"']
    filters = (
        '# committees = ["Økonomiudvalget"]   # only committees whose name contains one of these\n'
        '# since = "2026-01-01"               # default: the meetings of the last 180 days'
    )
    if kommune.url is not None:
        if kommune.verified:
            note = f"# {kommune.name}: FirstAgenda portal, host verified."
        else:
            note = (
                f"# {kommune.name}: FirstAgenda portal; the host is from public knowledge, not verified.\n"
                f"# Check it first: referatvagt sources probe {kommune.url}"
            )
        return "\n".join([note, *header, 'type = "firstagenda"', f'url = "{kommune.url}"', filters])
    if kommune.system in ("unknown", "firstagenda"):
        base = slug(kommune.name).replace("-", "")
        guesses = [f"https://{pattern.format(base)}" for pattern in USUAL_HOSTS]
        lines = [
            f"# {kommune.name}: the catalogue does not know its portal host. Most kommuner publish",
            "# through FirstAgenda Publication on one of these hosts; try them, and uncomment the one",
            "# that answers like a FirstAgenda portal:",
            *(f"#   referatvagt sources probe {guess}" for guess in guesses),
            *header,
            'type = "firstagenda"',
            *(f'# url = "{guess}"' for guess in guesses),
            filters,
        ]
        return "\n".join(lines)
    where = f" on {kommune.host}" if kommune.host else ""
    lines = [
        f"# {kommune.name} publishes with {kommune.system}{where} ({kommune.note or 'per public knowledge'}).",
        "# referatvagt has no adapter for it yet. If a page lists the minutes as PDF or HTML links,",
        "# an http-index source can follow that page:",
        *(f"# {line}" for line in "\n".join(header).split("\n")),
        '# type = "http-index"',
        f'# url = "https://{kommune.host or "…"}/<the page that lists the minutes>"',
        '# link_pattern = "referat.*\\\\.pdf$"',
    ]
    return "\n".join(lines)
