"""Building blocks shared by every config table: frozen models, durations and web addresses."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def parse_duration(text: str) -> timedelta:
    """``"30m"``, ``"1h"``, ``"1h30m"``, ``"90s"``, ``"1d"`` → a timedelta; ValueError if not one."""
    match = _DURATION.match(text.strip().lower())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration like '30m', '1h', '1h30m' or '90s'")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if duration < timedelta(seconds=1):
        raise ValueError(f"{text!r} is too short: at least one second")
    return duration


def check_duration(value: str | None) -> str | None:
    if value is not None:
        parse_duration(value)
    return value


def web_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL, e.g. 'https://dagsordener.herlev.dk'")
    return value
