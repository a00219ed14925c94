"""Reading TOML files (the config and watchlists) and naming their mistakes as
``file:line: key: message``.

tomllib keeps no positions, so a problem's line is found in the file's text: a syntax error's
message carries it, an encoding error's byte offset gives it, and a key's line is read from
the plain layout users write (``[table]``, ``[[array]]``, ``key = value``).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.errors import ConfigError
from bot.source_config import SOURCE_TYPES

_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def decode_toml(data: bytes, path: Path) -> str:
    """The file's bytes as text: UTF-8 (a byte order mark is allowed), else an error naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}): save the file as UTF-8"
        ) from None


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    """The TOML document, or a :class:`ConfigError` ``file:line: not valid TOML: …``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _AT.search(message)
        line = int(at.group(1)) if at and at.group(1) else max(1, len(text.splitlines()))
        column = f" (column {at.group(2)})" if at and at.group(2) else ""
        reason = message[: at.start()] if at else message
        raise ConfigError(f"{path}:{line}: not valid TOML: {reason}{column}") from None


_TABLE = re.compile(r"^\s*\[(\[)?\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]+\")\s*=")


def key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Map each table and key path, e.g. ``("source", 0, "path")``, to its 1-based line."""
    lines: dict[tuple[Any, ...], int] = {}
    counters: dict[str, int] = {}
    table: tuple[Any, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TABLE.match(line)
        if header:
            name = header.group(2).strip().strip('"')
            if header.group(1):
                index = counters.get(name, -1) + 1
                counters[name] = index
                table = (*name.split("."), index)
            else:
                table = tuple(name.split("."))
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault((*table, key.group(1).strip('"')), number)
    return lines


def where(path: Path, text: str, loc: tuple[Any, ...]) -> str:
    """``file:line: key`` for a key path such as ``("source", 2, "path")`` (0-based indexes)."""
    line = nearest_line(loc, key_lines(text))
    return f"{path}:{line}: {format_key(loc)}" if line else f"{path}: {format_key(loc)}"


def describe_validation_error(
    exc: ValidationError,
    text: str,
    path: Path,
    reference: str = "config.example.toml",
    origins: list[int] | None = None,
) -> str:
    """One line per problem: ``file:line: key: what is wrong``. ``origins`` maps each source to
    the ``[[source]]`` block it was expanded from, so a problem points at the block's line."""
    positions = key_lines(text)
    messages = []
    for error in exc.errors():
        loc = user_location(error["loc"], origins)
        line = nearest_line(loc, positions)
        place = f"{path}:{line}" if line else str(path)
        messages.append(f"{place}: {format_key(loc)}: {_explain(error, loc, reference)}")
    return "\n".join(dict.fromkeys(messages))  # a kommuner block repeats its problem per kommune


def format_key(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part + 1}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "(top level)"


def user_location(loc: tuple[Any, ...], origins: list[int] | None = None) -> tuple[Any, ...]:
    # pydantic adds the discriminator value ("folder") to the path of a union member.
    parts = [part for part in loc if part not in SOURCE_TYPES]
    if origins is not None and len(parts) > 1 and parts[0] in ("source", "sources") and isinstance(parts[1], int):
        parts[1] = origins[parts[1]] if parts[1] < len(origins) else parts[1]
    return tuple("source" if part == "sources" else part for part in parts)


def nearest_line(loc: tuple[Any, ...], positions: dict[tuple[Any, ...], int]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in positions:
            return positions[loc[:end]]
    return None


def _explain(error: Any, loc: tuple[Any, ...], reference: str) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key (check the spelling; see {reference})"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"unknown source type {error['input'].get('type')!r}; known types: {', '.join(SOURCE_TYPES)}"
    if kind == "union_tag_not_found":
        return f"the source needs a 'type' ({', '.join(SOURCE_TYPES)})"
    wrong_type = _wrong_type(kind, _key_name(loc), error["input"])
    if wrong_type:
        return wrong_type
    return str(error["msg"]).removeprefix("Value error, ")


def _key_name(loc: tuple[Any, ...]) -> str:
    return next((part for part in reversed(loc) if isinstance(part, str)), "key")


def _wrong_type(kind: str, key: str, value: Any) -> str | None:
    """What to write instead of a value of the wrong type (no silent coercion: "yes" is no bool)."""
    if kind in ("tuple_type", "list_type"):
        example = json.dumps([value] if isinstance(value, str | int | float) else ["…"], ensure_ascii=False)
        return f"must be a list, e.g. {key} = {example}"
    if kind == "bool_type":
        return f"must be true or false, without quotes, e.g. {key} = true"
    if kind in ("int_type", "int_from_float"):
        example = value.strip() if isinstance(value, str) and value.strip().isdigit() else "30"
        return f"must be a whole number, without quotes, e.g. {key} = {example}"
    if kind == "float_type":
        return f"must be a number, without quotes, e.g. {key} = 1.5"
    if kind == "string_type":
        return f"must be text in quotes, e.g. {key} = {json.dumps(str(value), ensure_ascii=False)}"
    if kind in ("dict_type", "model_type"):
        return f"must be a table, e.g. [{key}] on a line of its own, followed by its keys"
    return None
