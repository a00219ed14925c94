"""Search the stored items with the watchlist query language (``/search`` in ``referatvagt serve``).

A search is a watchlist that is not saved: its terms and filters become a :class:`Watchlist`,
matched by the same :class:`Matcher` as every watchlist, so a search finds exactly what the
watchlist file it offers would find (the dates aside: a watchlist follows new items). The store
is only read. The cost of one search is bounded (:class:`SearchLimits`): the query's length and
number of terms, the items scanned (the newest first, after the SQL filters on kommune, committee
and meeting date) and the results shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from pydantic import ValidationError

from bot.match.matcher import ItemText, Matcher, WatchlistMatch
from bot.match.query import TermError, parse_term
from bot.match.snippet import Snippet
from bot.match.watchlists import RESERVED_PREFIXES, Watchlist
from bot.publish.entries import Row
from bot.store import Store

_TERM = re.compile(r'"[^"]*"?|[^\s"]+')  # a quoted phrase (an unclosed one is reported by parse_term) or a word
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SLUG_FOLD = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "é": "e", "ü": "u", "ö": "oe", "ä": "ae"})
BATCH = 500  # item versions read at a time
# The form's fields and their names in the page's address (Danish, as the address shows them).
FIELDS = ("q", "alle", "uden", "kommune", "udvalg", "afsnit", "fra", "til")


@dataclass(frozen=True)
class SearchLimits:
    """What one search may cost; at most ``searches`` are computed at once (see :mod:`bot.publish.search_web`)."""

    max_chars: int = 300  # per text field of the form
    max_terms: int = 20  # terms in all (any, all, none)
    max_results: int = 50  # results shown (and entries in the search feed)
    max_scanned: int = 20_000  # items matched per search, the newest first
    searches: int = 2  # computed at once; more wait for one to finish
    wait: float = 5.0  # seconds a search waits for its turn before 503


class SearchError(ValueError):
    """A search that cannot run as written: its message is shown on the page (HTTP 400)."""


@dataclass(frozen=True)
class SearchQuery:
    terms: tuple[str, ...] = ()  # any of these (watchlist ``terms``)
    all: tuple[str, ...] = ()  # every one of these (``all``)
    exclude: tuple[str, ...] = ()  # none of these (``exclude``)
    kommune: str = ""  # exactly this kommune, case-insensitive (``kommuner``)
    committee: str = ""  # committees whose name contains this, case-insensitive (``committees``)
    section: str = ""  # only text in this section (``sections``)
    since: date | None = None  # meeting date from, inclusive
    until: date | None = None  # meeting date to, inclusive

    @property
    def empty(self) -> bool:
        """Nothing to look for: the page shows the form alone."""
        return not (self.terms or self.all)

    def params(self) -> dict[str, str]:
        """The query as the page's address writes it: every field that is set."""
        values = {
            "q": " ".join(self.terms),
            "alle": " ".join(self.all),
            "uden": " ".join(self.exclude),
            "kommune": self.kommune,
            "udvalg": self.committee,
            "afsnit": self.section,
            "fra": self.since.isoformat() if self.since else "",
            "til": self.until.isoformat() if self.until else "",
        }
        return {name: value for name, value in values.items() if value}

    def watchlist(self) -> Watchlist:
        """The watchlist this search is; its terms were checked by :func:`parse_query`."""
        return Watchlist(
            slug=self.slug(),
            title=self.title(),
            terms=self.terms,
            all=self.all,
            exclude=self.exclude,
            kommuner=(self.kommune,) if self.kommune else (),
            committees=(self.committee,) if self.committee else (),
            sections=(self.section,) if self.section else (),
        )

    def title(self) -> str:
        return ", ".join((*self.terms, *self.all))

    def slug(self) -> str:
        """A file name for the watchlist: its first term in ASCII ("kontanthjælp" → kontanthjaelp)."""
        first = (*self.terms, *self.all)[0] if not self.empty else ""
        slug = _NOT_SLUG.sub("-", first.lower().translate(_SLUG_FOLD)).strip("-")[:40].strip("-")
        return slug if slug and not slug.startswith(RESERVED_PREFIXES) else "soegning"

    def toml(self) -> str:
        """The watchlist file that follows this search (see the README's watchlist keys)."""
        lines = [
            f"# Gem som watchlists/{self.slug()}.toml; så følger referatvagt søgningen og melder nye punkter.",
            f"title = {_toml_string(self.title())}",
        ]
        keys = (
            ("terms", self.terms),
            ("all", self.all),
            ("exclude", self.exclude),
            ("kommuner", (self.kommune,) if self.kommune else ()),
            ("committees", (self.committee,) if self.committee else ()),
            ("sections", (self.section,) if self.section else ()),
        )
        lines += [f"{key} = [{', '.join(map(_toml_string, values))}]" for key, values in keys if values]
        if self.since or self.until:
            lines.append("# Datoerne (fra/til) har ingen nøgle i en watchlist: den følger nye punkter.")
        lines += ["", "[deliver]", "feed = true"]
        return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, apart from DEL, which TOML wants escaped too."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def split_terms(text: str) -> tuple[str, ...]:
    """The terms of a search field: words, and phrases in double quotes."""
    return tuple(found.group() for found in _TERM.finditer(text))


def parse_query(params: Mapping[str, str], limits: SearchLimits) -> SearchQuery:
    """The search a form (or a feed address) asks for; :class:`SearchError` says what is wrong."""
    for name in FIELDS:
        if len(params.get(name, "")) > limits.max_chars:
            raise SearchError(f"{name}: højst {limits.max_chars} tegn")
    terms, every, exclude = (split_terms(params.get(name, "")) for name in ("q", "alle", "uden"))
    if len(terms) + len(every) + len(exclude) > limits.max_terms:
        raise SearchError(f"højst {limits.max_terms} søgeord i alt")
    problems = []
    for raw in (*terms, *every, *exclude):
        try:
            parse_term(raw)
        except TermError as exc:
            problems.append(str(exc))
    if problems:
        raise SearchError("; ".join(problems))
    query = SearchQuery(
        terms=terms,
        all=every,
        exclude=exclude,
        kommune=params.get("kommune", "").strip(),
        committee=params.get("udvalg", "").strip(),
        section=params.get("afsnit", "").strip(),
        since=_day(params, "fra"),
        until=_day(params, "til"),
    )
    if not query.empty:
        try:
            query.watchlist()
        except ValidationError as exc:  # anything the watchlist's rules refuse that the checks above let by
            raise SearchError("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())) from exc
    return query


def _day(params: Mapping[str, str], name: str) -> date | None:
    text = params.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SearchError(f"{name}: {text!r} er ikke en dato som 2026-11-02 (år-måned-dag)") from None


@dataclass(frozen=True)
class Found:
    """One item the search found: where it was published, the terms that matched and a snippet."""

    row: Row
    terms: tuple[str, ...]
    snippet: Snippet


@dataclass
class Results:
    found: list[Found] = field(default_factory=list)
    scanned: int = 0  # items matched against the query
    scan_capped: bool = False  # more items passed the filters than one search may read: older ones were not
    more: bool = False  # more results than are shown


def run_search(store: Store, query: SearchQuery, limits: SearchLimits) -> Results:
    """The newest items the query matches, reading at most ``limits.max_scanned`` of them."""
    results = Results()
    if query.empty:
        return results
    kommuner = _chosen(store.kommuner(), query.kommune, lambda name, wanted: name == wanted)
    committees = _chosen(store.committees(), query.committee, lambda name, wanted: wanted in name)
    if kommuner == [] or committees == []:
        return results  # no kommune or committee by that name: no item can match
    ids = store.search_version_ids(kommuner, committees, query.since, query.until, limits.max_scanned + 1)
    results.scan_capped = len(ids) > limits.max_scanned
    matcher = Matcher([query.watchlist()])
    matched: dict[int, WatchlistMatch] = {}  # by item version, newest meeting first
    for version_id, text in _texts(store, ids[: limits.max_scanned]):
        results.scanned += 1
        found = matcher.match(text)  # one watchlist: at most one match
        if found and len(matched) == limits.max_results:
            results.more = True
            break
        if found:
            matched[version_id] = found[0]
    # Whole rows only for what is shown
    for item, version, meeting, source, document in store.versions_by_id(list(matched)):
        match = matched[version.id or 0]
        results.found.append(Found(Row(item, version, meeting, source, document), match.terms, match.snippet))
    return results


def _chosen(names: Sequence[str], wanted: str, fits: Callable[[str, str], bool]) -> list[str] | None:
    """The stored names a filter keeps (compared case-folded, as a watchlist does); None: no filter."""
    if not wanted:
        return None
    return [name for name in names if fits(name.casefold(), wanted.casefold())]


def _texts(store: Store, ids: Sequence[int]) -> Iterator[tuple[int, ItemText]]:
    """What the matcher reads of each item version, a batch at a time: a search that ends early
    (at its results cap) has not read the rest."""
    for start in range(0, len(ids), BATCH):
        for version_id, kommune, committee, case_number, title, sections in store.texts_by_id(
            ids[start : start + BATCH]
        ):
            yield version_id, ItemText(kommune, committee, case_number, title, tuple((h, t) for h, t in sections))
