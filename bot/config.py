"""Configuration: a TOML file validated into frozen, typed settings.

Without a config file the bot ingests the sample minutes bundled in the package into
``state/`` in the current folder, so a fresh checkout works with no setup at all.
Unknown keys and wrong types are errors naming the file, the line and the key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, StrictFloat, StrictInt, ValidationError, field_validator, model_validator
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from bot.addresses import EmailAddress
from bot.errors import ConfigError
from bot.settings import Frozen, check_duration
from bot.source_config import ExpansionError, FolderSource, SourceConfig, expand_sources
from bot.store.coordination import DIALECTS
from bot.toml_errors import decode_toml, describe_validation_error, parse_toml, user_location, where

DEFAULT_CONFIG_NAME = "config.toml"
SAMPLES_DIR = Path(__file__).parent / "samples"
_DATABASE_EXAMPLES = "'sqlite:////var/lib/referatvagt/referatvagt.db' or 'postgresql+psycopg://user@host/referatvagt'"


def empty_is_default(value: object) -> object:
    """``""`` (as the example config writes it) leaves an optional path at its default."""
    return None if value == "" else value


class BotSettings(Frozen):
    """The ``[bot]`` table."""

    state_dir: Path = Field(Path("state"), description="Folder for the database, raw archive and feeds.")
    archive_dir: Path | None = Field(
        None,
        description="The raw archive of fetched documents; default <state_dir>/archive (share it between workers).",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of SQLite or PostgreSQL; default sqlite:///<state_dir>/referatvagt.db."
    )
    timezone: str = Field("Europe/Copenhagen", description="Time zone for meeting times and schedules.")
    watchlists_dir: Path = Field(Path("watchlists"), description="Folder of watchlist files (*.toml).")
    every: str = Field("30m", description="How often a source is polled unless it sets its own: '30m', '1h'.")
    alert_after_failures: StrictInt = Field(
        3, ge=1, le=1000, description="Consecutive failures of a source before the health feed reports it."
    )
    contact: str = Field(
        "",
        max_length=200,
        pattern=r"^[^\x00-\x1f()]*$",
        description="An email address or URL sent with every request, so a portal's operator can reach you.",
    )
    lease: str = Field(
        "2m",
        description="How long a worker's claim on a poll holds without a sign of life; then another worker takes over.",
    )
    tick: str = Field("15s", description="How often each `run` worker looks in the store for due polls and emails.")
    read_processes: StrictInt | Literal["auto"] = Field(
        "auto",
        description=(
            "Processes that extract and parse documents beside the one that stores them, once a cycle has "
            "read 8 itself; 0 = none; 'auto': one fewer than the cores but at least 2, at most 4; none on one core."
        ),
    )
    _every = field_validator("every", "lease", "tick")(check_duration)
    _archive_dir = field_validator("archive_dir", mode="before")(empty_is_default)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        # The messages never quote the value: it may hold a password.
        if not value:  # "" in the example config: the default
            return value
        if re.search(r"[\x00-\x1f\x7f]", value):
            raise ValueError("contains a control character (such as NUL): remove it")
        try:
            backend = make_url(value).get_backend_name()
        except (ArgumentError, ValueError):
            raise ValueError(f"not a database URL; e.g. {_DATABASE_EXAMPLES}") from None
        if backend not in DIALECTS:
            raise ValueError(
                f"{backend!r} databases are not supported, only SQLite or PostgreSQL: {_DATABASE_EXAMPLES}"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. 'Europe/Copenhagen')") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("read_processes", mode="before")
    @classmethod
    def _processes(cls, value: object) -> object:
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 64):
            return value
        raise ValueError('must be "auto" or a whole number from 0 to 64, without quotes')

    @property
    def readers(self) -> int | None:
        """``read_processes`` as a number; None for 'auto'."""
        return None if self.read_processes == "auto" else self.read_processes

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'referatvagt.db'}"

    @property
    def archive(self) -> Path:
        return self.archive_dir or self.state_dir / "archive"


class FeedSettings(Frozen):
    """The ``[feeds]`` table."""

    base_url: str = Field(
        "http://127.0.0.1:8080/", description="Public URL where the feed folder is served (self links, OPML)."
    )
    max_entries: StrictInt = Field(100, ge=1, le=10_000, description="Newest entries kept in each feed.")
    dir: Path | None = Field(
        None, description="Folder the feeds, item pages and index are written to; default <state_dir>/feeds."
    )
    _dir = field_validator("dir", mode="before")(empty_is_default)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL, e.g. 'https://example.org/referatvagt/'")
        return value if value.endswith("/") else value + "/"


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class EmailSettings(Frozen):
    """The ``[email]`` table: the SMTP relay digests are sent through."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    host: str = Field("localhost", description="SMTP server.")
    port: StrictInt | None = Field(None, ge=1, le=65535, description="Default: 587 (starttls), 465 (ssl), 25 (none).")
    security: Literal["starttls", "ssl", "none"] = Field("starttls", description="How the connection is secured.")
    username: str | None = Field(None, description="Login name; no login when empty.")
    password_env: str | None = Field(None, description="Name of the environment variable holding the password.")
    sender: EmailAddress = Field(alias="from", description="The From address of digests.")
    ca_file: Path | None = Field(None, description="A CA bundle to trust (e.g. a relay's own certificate).")
    daily_at: str = Field("07:00", description="Local time of the daily digest (HH:MM).")
    weekly_on: Literal[_WEEKDAYS] = Field("monday", description="Day of the weekly digest.")  # type: ignore[valid-type]
    max_items: StrictInt = Field(25, ge=1, le=1000, description="Items per watchlist in one digest.")
    timeout: StrictFloat = Field(30, gt=0, le=600, description="Seconds to wait for each answer of the SMTP server.")

    @field_validator("daily_at")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", value):
            raise ValueError(f"{value!r} is not a time of day like '07:00'")
        return value

    @property
    def smtp_port(self) -> int:
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]

    @property
    def weekday(self) -> int:
        return _WEEKDAYS.index(self.weekly_on)


class NotifySettings(Frozen):
    """The ``[notify]`` table: chat and webhook notifications (Apprise)."""

    config: Path | None = Field(
        None, description="An Apprise config file (YAML or text) whose URLs watchlists name by tag: notify = ['tag:…']."
    )
    webhook_secret_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Environment variable holding the secret that signs webhook bodies (HMAC-SHA256).",
    )
    _empty = field_validator("config", "webhook_secret_env", mode="before")(empty_is_default)


class Config(Frozen):
    bot: BotSettings = BotSettings()
    feeds: FeedSettings = FeedSettings()
    email: EmailSettings | None = None
    notify: NotifySettings = NotifySettings()
    sources: tuple[SourceConfig, ...] = Field((), alias="source")
    origin: Path | None = Field(None, exclude=True, description="The file this was read from.")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _expand_kommuner(cls, data: Any) -> Any:
        blocks = data.get("source", data.get("sources")) if isinstance(data, dict) else None
        if isinstance(blocks, list):
            key = "source" if "source" in data else "sources"
            return {**data, key: expand_sources(blocks)[0]}
        return data

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                raise ValueError(f"two sources are named {source.name!r}; names must be unique")
            seen.add(source.name)
        return self

    @property
    def feed_folder(self) -> Path:
        """Where the feeds, item pages and index are published."""
        return self.feeds.dir or self.bot.state_dir / "feeds"

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(f"no source named {name!r} in {self.origin or 'the built-in config'}")


def default_config() -> Config:
    """The config used when no file is given: the bundled sample minutes."""
    return Config(
        sources=(
            FolderSource(type="folder", name="lindholm", kommune="Lindholm", path=SAMPLES_DIR / "lindholm"),
            FolderSource(type="folder", name="egeskov", kommune="Egeskov", path=SAMPLES_DIR / "egeskov"),
        )
    )


def find_config_file(explicit: Path | None, cwd: Path | None = None) -> Path | None:
    """The file to read: the one given, else ``config.toml`` in the current folder, else none."""
    if explicit is not None:
        return explicit
    candidate = (cwd or Path.cwd()) / DEFAULT_CONFIG_NAME
    return candidate if candidate.is_file() else None


def load_config(path: Path | None) -> Config:
    """Read and validate a config file; ``None`` gives the built-in defaults."""
    if path is None:
        return default_config()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from exc
    return parse_config(decode_toml(raw, path), path)


def parse_config(text: str, path: Path) -> Config:
    data = parse_toml(text, path)
    nul = _first_nul(data)
    if nul is not None:  # no path, address or URL holds one, and it would fail far from here
        raise ConfigError(f"{where(path, text, user_location(nul))}: contains a NUL character: remove it")
    origins = None
    if isinstance(data.get("source"), list):
        try:
            data["source"], origins = expand_sources(data["source"])
        except ExpansionError as exc:
            raise ConfigError(f"{where(path, text, ('source', exc.index, exc.key))}: {exc}") from None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, text, path, origins=origins)) from exc
    return _resolve_paths(config, path)


def _first_nul(value: Any, loc: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """Where the first string holding a NUL is, as a key path."""
    if isinstance(value, str):
        return loc if "\x00" in value else None
    parts = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in parts:
        found = _first_nul(inner, (*loc, key))
        if found is not None:
            return found
    return None


def _resolve_paths(config: Config, path: Path) -> Config:
    base = path.resolve().parent
    if config.email is not None and config.email.ca_file is not None:
        email = config.email.model_copy(update={"ca_file": _absolute(config.email.ca_file, base)})
        config = config.model_copy(update={"email": email})
    bot = config.bot.model_copy(
        update={
            "state_dir": _absolute(config.bot.state_dir, base),
            "watchlists_dir": _absolute(config.bot.watchlists_dir, base),
            "archive_dir": config.bot.archive_dir and _absolute(config.bot.archive_dir, base),
        }
    )
    if config.notify.config is not None:
        notify = config.notify.model_copy(update={"config": _absolute(config.notify.config, base)})
        config = config.model_copy(update={"notify": notify})
    if config.feeds.dir is not None:
        config = config.model_copy(
            update={"feeds": config.feeds.model_copy(update={"dir": _absolute(config.feeds.dir, base)})}
        )
    sources = tuple(
        s.model_copy(update={"path": _absolute(s.path, base)}) if isinstance(s, FolderSource) else s
        for s in config.sources
    )
    return config.model_copy(update={"bot": bot, "sources": sources, "origin": path})


def _absolute(value: Path, base: Path) -> Path:
    value = value.expanduser()
    return value if value.is_absolute() else base / value


def missing_folders(config: Config) -> list[str]:
    """Folder sources whose folder does not exist, as ``file:line: source[N].path: …`` (for
    `check`; an ingest reports them as failing sources and goes on with the others)."""
    missing = [s for s in config.sources if isinstance(s, FolderSource) and not s.path.is_dir()]
    if not missing or config.origin is None:
        return [f"source {s.name}: path: no folder {s.path}" for s in missing]
    text = decode_toml(config.origin.read_bytes(), config.origin)
    blocks = parse_toml(text, config.origin).get("source", [])
    names = [block.get("name") if isinstance(block, dict) else None for block in blocks]
    return [
        f"{where(config.origin, text, ('source', names.index(s.name) if s.name in names else 0, 'path'))}: "
        f"no folder {s.path}: create it or correct the path"
        for s in missing
    ]
