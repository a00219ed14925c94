"""The ``[[source]]`` tables: one frozen model per source ``type``, and the blocks that name
kommuner (``kommune = "Billund"`` or ``kommuner = ["*"]``) expanded into one source per kommune
from the built-in catalogue.
"""

from __future__ import annotations

import difflib
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union, get_args
from urllib.parse import urlsplit

from lxml.cssselect import CSSSelector, SelectorError
from pydantic import Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator

from bot.catalogue import Kommune, find, fold, load_catalogue, site_defaults, slug
from bot.settings import SLUG, Frozen, check_duration, web_url

# Sources from a ``kommuner`` block are polled this often unless the block sets ``every``:
# a national config polls about a hundred sites, and minutes appear a few times a week.
MANY_KOMMUNER_EVERY = "1h"
# The keys a ``kommuner`` block passes on to each of its sources; the others belong to one site.
SHARED_KEYS = (
    "committees",
    "since",
    "every",
    "budget",
    "min_interval",
    "attachments",
    "attachment_max_mb",
    "attachment_max_pages",
)


class _SourceBase(Frozen):
    name: str = Field(description="Short unique id of the source: lower-case letters, digits, - and _.")
    kommune: str = Field(description="The municipality, as it should appear in feeds and emails.")
    every: str | None = Field(None, description="How often to poll this source; default [bot] every.")
    budget: str = Field(
        "10m", description="The longest one poll of this source may take; what is left is fetched at the next poll."
    )
    _every = field_validator("every", "budget")(check_duration)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError(f"{value!r} is not a valid name: use lower-case letters, digits, '-' and '_'")
        return value


class FolderSource(_SourceBase):
    """A local folder of minutes files (.md, .txt, .html, .pdf), read recursively."""

    type: Literal["folder"]
    path: Path = Field(description="The folder; relative paths are relative to the config file.")


class HttpIndexSource(_SourceBase):
    """A web page listing minutes documents (PDF or HTML): the links it names are fetched."""

    type: Literal["http-index"]
    url: str = Field(description="The page that links to the minutes documents.")
    link_pattern: str | None = Field(None, description="Regular expression a link must match (searched).")
    link_selector: str | None = Field(None, description="CSS selector of the links (instead of link_pattern).")
    min_interval: StrictFloat = Field(1.0, ge=0, le=600, description="Seconds between two requests to the site.")

    _url = field_validator("url")(web_url)

    @field_validator("link_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        try:
            re.compile(value or "")
        except re.error as exc:
            raise ValueError(f"{value!r} is not a valid regular expression ({exc})") from None
        return value

    @field_validator("link_selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                CSSSelector(value)
            except SelectorError as exc:
                raise ValueError(f"{value!r} is not a valid CSS selector ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_way_to_find_links(self) -> HttpIndexSource:
        if (self.link_pattern is None) == (self.link_selector is None):
            raise ValueError("give exactly one of link_pattern (a regular expression) and link_selector (CSS)")
        return self


class PortalSource(_SourceBase):
    """A kommune's publishing system, read by its adapter. Without ``url`` the catalogue's host
    of the kommune is used; ``url`` replaces the scheme, host and port of the real site (the paths
    are the real site's), so a mirror or a local imitation can stand in."""

    ROOT_ONLY: ClassVar[bool] = True

    url: str = Field(description="The site's address (scheme, host, port); default: the catalogue's host.")
    committees: tuple[str, ...] = Field((), description="Only committees whose name contains one of these.")
    since: date | None = Field(None, description="Only meetings on or after this day; default: the last 180 days.")
    min_interval: StrictFloat = Field(1.0, ge=0, le=600, description="Seconds between two requests to the site.")
    # Per source, not under [bot]: what a bilag weighs differs by site, and a ``kommuner`` block
    # still sets them for all its sites at once.
    attachments: StrictBool = Field(
        False, description="Fetch the items' attachments (bilag) that are PDFs and keep their text, for watchlists."
    )
    attachment_max_mb: StrictFloat = Field(
        20, gt=0, le=200, description="An attachment larger than this many megabytes is not downloaded."
    )
    attachment_max_pages: StrictInt = Field(
        300, ge=1, le=10_000, description="Only this many pages of an attachment are read."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_catalogue(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("kommune"), str) and isinstance(data.get("type"), str):
            if "url" not in data:
                return {**site_defaults(data["kommune"], data["type"]), **data}
        return data

    @field_validator("since", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        # A date or "YYYY-MM-DD"; pydantic would read a number as seconds since 1970.
        if value is not None and not isinstance(value, str | date):
            raise ValueError('must be a day, e.g. since = "2026-01-01" or since = 2026-01-01')
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = web_url(value).rstrip("/")
        parts = urlsplit(value)
        if cls.ROOT_ONLY and (parts.path or parts.query or parts.fragment):
            root = f"{parts.scheme}://{parts.netloc}"
            raise ValueError(f"{value!r}: give only the site's address, e.g. {root!r}; the paths are the real site's")
        return value


class FirstAgendaSource(PortalSource):
    """A FirstAgenda Publication portal (its JSON API): committees, meetings and their items."""

    ROOT_ONLY: ClassVar[bool] = False
    type: Literal["firstagenda"]


class MeetingsPlusSource(PortalSource):
    """A Formpipe Meetings+ site: the overview page, each meeting's page and its items' PDFs."""

    type: Literal["meetingsplus"]


class AabenDagsordenSource(PortalSource):
    """An Åben Dagsorden site: its meeting search (JSON) and each meeting's HTML view."""

    type: Literal["aabendagsorden"]
    date_format: Literal["auto", "YYYY-MM-DD", "DD/MM/YYYY"] = Field(
        "auto", description="How the site writes dates in its search; 'auto' tells from the answers."
    )
    skip_committees: tuple[str, ...] = Field(
        (), description="Committees (or committee groups) to leave out, e.g. a test committee."
    )


class KkJsonApiSource(PortalSource):
    """København's own site (Drupal JSON:API): agenda items by meeting date, each with its page."""

    type: Literal["kk-jsonapi"]


class AalborgSource(PortalSource):
    """Aalborg's own minutes app: the meetings of each committee id; minutes only."""

    type: Literal["aalborg"]
    committee_ids: tuple[StrictInt, ...] = Field(
        min_length=1, description="The app's committee ids (they change with each new council)."
    )


class FrederikssundSource(PortalSource):
    """Frederikssund's own site: committee pages by year and each meeting's page."""

    type: Literal["frederikssund"]


class HedenstedSource(PortalSource):
    """Hedensted's site (SBSYS module): committee pages, their agenda lists and meeting pages."""

    type: Literal["hedensted"]


class RkskSource(PortalSource):
    """Ringkøbing-Skjern's site (eDoc): committee pages and each meeting's page."""

    type: Literal["rksk"]


# The sites read by a :class:`~bot.sources.site.SiteSource` adapter.
SiteConfig = Union[
    MeetingsPlusSource,
    AabenDagsordenSource,
    KkJsonApiSource,
    AalborgSource,
    FrederikssundSource,
    HedenstedSource,
    RkskSource,
]

SourceConfig = Annotated[
    Union[
        FolderSource,
        FirstAgendaSource,
        HttpIndexSource,
        MeetingsPlusSource,
        AabenDagsordenSource,
        KkJsonApiSource,
        AalborgSource,
        FrederikssundSource,
        HedenstedSource,
        RkskSource,
    ],
    Field(discriminator="type"),
]


def _source_types() -> tuple[str, ...]:
    union = get_args(SourceConfig)[0]
    return tuple(get_args(model.model_fields["type"].annotation)[0] for model in get_args(union))


SOURCE_TYPES = _source_types()


# --- blocks that name kommuner ---------------------------------------------------------------


class ExpansionError(ValueError):
    """A ``[[source]]`` block that names kommuner cannot be expanded: ``index`` and ``key`` say where."""

    def __init__(self, index: int, key: str, message: str) -> None:
        super().__init__(message)
        self.index, self.key = index, key


def expand_sources(blocks: list[Any]) -> tuple[list[Any], list[int]]:
    """Blocks with ``kommuner`` (or only ``kommune``) and no ``type`` → one source per kommune.

    Returns the sources and, for each, the index of the block it came from. A source written
    out in its own block wins over the one a ``kommuner`` block would make under the same name.
    """
    explicit = {_own_name(block) for block in blocks if isinstance(block, dict) and "kommuner" not in block}
    sources: list[Any] = []
    origins: list[int] = []
    for index, block in enumerate(blocks):
        if not (isinstance(block, dict) and _names_kommuner(block)):
            sources.append(block)
            origins.append(index)
            continue
        for source in _expand(index, block):
            if "kommuner" in block and source["name"] in explicit:
                continue
            sources.append(source)
            origins.append(index)
    return sources, origins


def _own_name(block: dict[str, Any]) -> Any:
    """The name of a source written out in its own block (a kommune-only block: its slug)."""
    if "name" in block or not isinstance(block.get("kommune"), str):
        return block.get("name")
    found = find(block["kommune"])
    return slug(found.name) if found is not None else None


def _names_kommuner(block: dict[str, Any]) -> bool:
    return "type" not in block and ("kommuner" in block or ("kommune" in block and "url" not in block))


def _expand(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    if "kommuner" not in block:
        kommune = _kommune(index, "kommune", block["kommune"])
        return [{"name": slug(kommune.name), **_source(kommune), **block, "kommune": kommune.name}]
    for key in block:
        if key != "kommuner" and key not in SHARED_KEYS:
            raise ExpansionError(
                index,
                key,
                f"{key!r} cannot be given for many kommuner at once (only {', '.join(SHARED_KEYS)}); "
                "give it in a [[source]] of its own for the one kommune",
            )
    shared = {"every": MANY_KOMMUNER_EVERY, **{key: value for key, value in block.items() if key != "kommuner"}}
    return [{"name": slug(kommune.name), **_source(kommune), **shared} for kommune in _kommuner(index, block)]


def _kommuner(index: int, block: dict[str, Any]) -> list[Kommune]:
    names = block["kommuner"]
    if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
        raise ExpansionError(index, "kommuner", 'give a list of kommune names, or ["*"] for every kommune')
    if names == ["*"]:
        return [kommune for kommune in load_catalogue() if kommune.url is not None]
    if "*" in names:
        raise ExpansionError(index, "kommuner", '"*" means every kommune: give it alone, as ["*"]')
    kommuner = [_kommune(index, "kommuner", name) for name in names]
    return list({kommune.name: kommune for kommune in kommuner}.values())


def _kommune(index: int, key: str, name: Any) -> Kommune:
    if not isinstance(name, str):
        raise ExpansionError(index, key, "give the kommune's name as a string")
    kommune = find(name)
    if kommune is None:
        raise ExpansionError(index, key, f"{name!r} is not a kommune in the catalogue{_suggestion(name)}")
    if kommune.url is None:
        raise ExpansionError(
            index,
            key,
            f"the catalogue does not know where {kommune.name} publishes; add a [[source]] with its own "
            f"type and url (see `referatvagt sources known {kommune.name}`)",
        )
    return kommune


def _source(kommune: Kommune) -> dict[str, Any]:
    return {"type": kommune.system, "kommune": kommune.name, "url": kommune.url, **kommune.options}


def _suggestion(name: str) -> str:
    names = {fold(kommune.name): kommune.name for kommune in load_catalogue()}
    close = difflib.get_close_matches(fold(name), list(names), n=1, cutoff=0.6)
    return f"; did you mean {names[close[0]]!r}?" if close else " (see `referatvagt sources known`)"
