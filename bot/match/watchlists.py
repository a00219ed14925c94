"""Watchlist files: one TOML file per watchlist, its slug the file name without ``.toml``.

Each file is validated on its own: a broken watchlist is reported (file, line, key) and the
others still work. Terms are parsed here, so a term that cannot match is an error up front.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    model_validator,
)

from bot.addresses import EmailAddress
from bot.errors import ConfigError
from bot.match.query import Term, TermError, parse_term
from bot.outcomes import OUTCOMES, outcome_name
from bot.toml_errors import decode_toml, describe_validation_error, parse_toml

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
RESERVED_PREFIXES = ("source-", "_")
# Far above any real watchlist (the largest we know of has a few hundred terms), and low enough
# that a runaway generated file cannot take the bot's memory (a million terms took 1.5 GB).
MAX_FILE_BYTES = 1 * 2**20
MAX_TERMS = 20_000


def _valid_term(raw: str) -> str:
    try:
        parse_term(raw)
    except TermError as exc:
        raise ValueError(str(exc)) from None
    return raw


TermText = Annotated[str, AfterValidator(_valid_term)]


def _notify_url(raw: str) -> str:
    if re.match(r"^tag:[A-Za-z0-9_.-]+$", raw):  # the entries of [notify] config with this tag
        return raw
    if not re.match(r"^[a-z][a-z0-9+.-]*://\S+$", raw):
        raise ValueError(f"{raw!r} is not an Apprise URL like 'ntfy://referatvagt-busser' or 'json://example.org/hook'")
    return raw


def _env_name(raw: str) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", raw):
        raise ValueError(f"{raw!r} is not the name of an environment variable, e.g. 'REFERATVAGT_SLACK_URL'")
    return raw


NotifyUrl = Annotated[str, AfterValidator(_notify_url)]
EnvName = Annotated[str, AfterValidator(_env_name)]
OutcomeName = Annotated[Literal[OUTCOMES], BeforeValidator(outcome_name)]  # type: ignore[valid-type]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Deliver(_Frozen):
    """The ``[deliver]`` table: where matches go."""

    feed: StrictBool = Field(True, description="Publish an RSS/Atom feed of the matches.")
    email: tuple[EmailAddress, ...] = Field((), description="Addresses that get email digests.")
    digest: Literal["immediate", "daily", "weekly"] = Field(
        "daily", description="How often email and notifications are sent."
    )
    notify: tuple[NotifyUrl, ...] = Field(
        (), description="Apprise URLs without secrets (ntfy://, json://, …) that get each digest's notification."
    )
    notify_env: tuple[EnvName, ...] = Field(
        (), description="Names of environment variables each holding an Apprise URL with its secret."
    )
    weekly_all_clear: StrictBool = Field(
        False, description="A weekly line when nothing matched, saying which kommuner were read and were healthy."
    )


class Watchlist(_Frozen):
    """One watchlist file. ``slug`` and ``path`` come from the file, not from its keys."""

    slug: str = Field("", exclude=True)
    path: Path | None = Field(None, exclude=True)
    text: str = Field("", exclude=True, description="The file as read: kept as the last valid version.")
    title: str = Field("", description="Shown in feeds and emails; default: the slug.")
    terms: tuple[TermText, ...] = Field((), description="An item matches if any of these matches (OR).")
    all: tuple[TermText, ...] = Field((), description="Every one of these must also match (AND).")
    exclude: tuple[TermText, ...] = Field((), description="An item matching any of these is dropped (NOT).")
    kommuner: tuple[str, ...] = Field((), description="Only these municipalities (empty: all).")
    committees: tuple[str, ...] = Field((), description="Only committees whose name contains one of these.")
    sections: tuple[str, ...] = Field((), description="Only text in these sections (empty: the whole item).")
    cases: tuple[str, ...] = Field((), description="Case numbers followed through every committee and meeting.")
    only_new_text: StrictBool = Field(False, description="A change matches only when a term is in the added text.")
    attachments: StrictBool = Field(
        False, description="Terms also match in the item's attachments (bilag), where its source fetches them."
    )
    backfill_days: StrictInt = Field(30, ge=0, description="A new or edited watchlist is run on items this recent.")
    fold_aa: StrictBool = Field(False, description="Treat å and aa as the same letter (Aabenraa = Åbenrå).")
    public: StrictBool = Field(
        True, description="Listed on the index page and in the OPML; false: an unguessable feed path."
    )
    outcomes: tuple[OutcomeName, ...] = Field(
        (), description="Only items whose decision has one of these outcomes (empty: any item)."
    )
    paused: StrictBool = Field(False, description="No email or notification; matches still recorded and in the feed.")
    paused_until: date | None = Field(None, description="Paused until this day (YYYY-MM-DD), then delivered again.")
    deliver: Deliver = Deliver()

    @model_validator(mode="after")
    def _something_to_match(self) -> Watchlist:
        if not (self.terms or self.all or self.cases):
            raise ValueError("a watchlist needs 'terms', 'all' or 'cases'")
        count = len(self.terms) + len(self.all) + len(self.exclude) + len(self.cases)
        if count > MAX_TERMS:
            raise ValueError(
                f"{count:,} terms and case numbers; at most {MAX_TERMS:,} per watchlist (split it into several files)"
            )
        return self

    @property
    def name(self) -> str:
        return self.title or self.slug

    def parsed(self, clause: Literal["terms", "all", "exclude"]) -> tuple[Term, ...]:
        return tuple(parse_term(raw, self.fold_aa) for raw in getattr(self, clause))

    def paused_on(self, day: date) -> bool:
        """Whether delivery (email, notifications) is paused on ``day``."""
        return self.paused or (self.paused_until is not None and day < self.paused_until)

    def digest(self) -> str:
        """Changes whenever the watchlist's meaning changes: an edited watchlist is re-run."""
        data = self.model_dump(mode="json", exclude=_NOT_MEANING)
        for key in _LATER_KEYS:
            if not data[key]:
                del data[key]  # a watchlist from before the key existed keeps its digest: no re-run
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


# Keys that do not change what matches: editing them re-runs nothing.
_NOT_MEANING: Any = {
    "paused": True,
    "paused_until": True,
    "deliver": {"notify", "notify_env", "weekly_all_clear"},
}
# Keys added after the first release, left out of the digest while unset.
_LATER_KEYS = ("attachments", "outcomes")


def paused_slugs(watchlists: Sequence[Watchlist], day: date) -> frozenset[str]:
    """The watchlists whose delivery is paused on ``day``."""
    return frozenset(watchlist.slug for watchlist in watchlists if watchlist.paused_on(day))


def load_watchlist(path: Path) -> Watchlist:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MB; split it into several watchlists")
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read watchlist ({exc.strerror or exc})") from exc
    return watchlist_from_text(decode_toml(raw, path), path)


def watchlist_from_text(text: str, path: Path) -> Watchlist:
    """Validate one watchlist's TOML; the slug is the file name."""
    slug = path.stem
    if len(text) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MB; split it into several watchlists")
    if not _SLUG.match(slug):
        raise ConfigError(f"{path}: the file name must be a slug: lower-case letters, digits, '-' and '_'")
    if slug.startswith(RESERVED_PREFIXES):
        raise ConfigError(f"{path}: names starting with {' or '.join(RESERVED_PREFIXES)} are reserved for the bot")
    data = parse_toml(text, path)
    for reserved in ("slug", "path", "text"):
        if reserved in data:
            raise ConfigError(f"{path}: {reserved}: unknown key (the slug is the file name)")
    try:
        return Watchlist.model_validate({**data, "slug": slug, "path": path, "text": text})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, text, path, "the README's watchlist keys")) from exc


def load_watchlists(folder: Path) -> tuple[list[Watchlist], list[str]]:
    """Every ``*.toml`` in the folder; broken ones come back as error messages instead."""
    watchlists: list[Watchlist] = []
    errors: list[str] = []
    if not folder.is_dir():
        return watchlists, errors
    for path in sorted(folder.glob("*.toml")):
        try:
            watchlists.append(load_watchlist(path))
        except ConfigError as exc:
            errors.append(str(exc))
    return watchlists, errors


def trial_watchlist(terms: tuple[str, ...]) -> Watchlist:
    """A watchlist of the given terms only, for trying them out; bad terms are a ConfigError."""
    try:
        return Watchlist(slug="try", terms=terms)
    except ValidationError as exc:
        problems = [str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()]
        raise ConfigError("; ".join(problems)) from exc
