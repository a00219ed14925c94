"""What changed: item identity across versions, changed sections, and word-level diffs.

Pure functions on plain values, so the rules can be read and tested without a database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Protocol, TypeVar

from bot.parse.minutes import collapse

SIMILAR_TITLE = 0.6
_CONTEXT_WORDS = 8
_WORD = re.compile(r"\S+")


class StoredItem(Protocol):
    portal_id: str | None
    number: int | None
    title: str
    case_number: str | None


class NewItem(Protocol):
    @property
    def portal_id(self) -> str | None: ...
    @property
    def number(self) -> int | None: ...
    @property
    def title(self) -> str: ...
    @property
    def case_number(self) -> str | None: ...


S = TypeVar("S", bound=StoredItem)
N = TypeVar("N", bound=NewItem)


def title_key(title: str) -> str:
    return collapse(title).casefold()


def match_items(new: Sequence[N], stored: Sequence[S]) -> list[tuple[N, S | None]]:
    """Pair each new item with the stored item it is a version of, or ``None`` if it is new.

    Rules in order, each stored item used once: the same portal id; the same case number
    and title; the same number and a similar title. Case numbers alone are not enough:
    standing items such as "Godkendelse af dagsorden" share one case number all year.
    """
    free = list(stored)
    pairs: dict[int, S] = {}
    rules = (_same_portal_id, _same_case_and_title, _same_title, _same_number_similar_title)
    for rule in rules:
        for index, item in enumerate(new):
            if index in pairs:
                continue
            found = next((candidate for candidate in free if rule(item, candidate)), None)
            if found is not None:
                pairs[index] = found
                free.remove(found)
    return [(item, pairs.get(index)) for index, item in enumerate(new)]


def _same_portal_id(new: NewItem, old: StoredItem) -> bool:
    return new.portal_id is not None and new.portal_id == old.portal_id


def _same_case_and_title(new: NewItem, old: StoredItem) -> bool:
    return (
        new.case_number is not None
        and new.case_number == old.case_number
        and title_key(new.title) == title_key(old.title)
    )


def _same_title(new: NewItem, old: StoredItem) -> bool:
    # A case number added or corrected between agenda and minutes does not make a new item.
    missing_case = new.case_number is None or old.case_number is None or new.number == old.number
    return missing_case and title_key(new.title) == title_key(old.title)


def _same_number_similar_title(new: NewItem, old: StoredItem) -> bool:
    if new.number is None or new.number != old.number:
        return False
    return SequenceMatcher(None, title_key(new.title), title_key(old.title)).ratio() >= SIMILAR_TITLE


# --- section changes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    changed_sections: tuple[str, ...]
    decision_added: bool
    diff: tuple[dict[str, object], ...]


def compare(
    old_sections: Sequence[tuple[str, str]],
    new_sections: Sequence[tuple[str, str]],
    old_decisions: Sequence[str],
    new_decisions: Sequence[str],
    old_fields: dict[str, str | None],
    new_fields: dict[str, str | None],
) -> Change:
    """Compare two versions section by section (headings as keys), plus title and case number."""
    old, new = dict(old_sections), dict(new_sections)
    changed: list[str] = []
    diffs: list[dict[str, object]] = []
    for name in [*new_fields]:
        if collapse(old_fields.get(name) or "") != collapse(new_fields.get(name) or ""):
            changed.append(name)
            diffs.append({"section": name, "ops": word_diff(old_fields.get(name) or "", new_fields.get(name) or "")})
    for heading in _ordered_union([h for h, _ in new_sections], [h for h, _ in old_sections]):
        before, after = old.get(heading, ""), new.get(heading, "")
        if before != after and collapse(before) != collapse(after):  # most sections are unchanged
            changed.append(heading)
            diffs.append({"section": heading, "ops": word_diff(before, after)})
    added = set(new_decisions) - set(old_decisions)
    return Change(tuple(changed), bool(added), tuple(diffs))


def _ordered_union(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def word_diff(before: str, after: str) -> list[list[str]]:
    """Word-level diff as ``[op, text]`` runs: ``=`` kept (trimmed to context), ``-`` removed, ``+`` added."""
    old, new = _WORD.findall(before), _WORD.findall(after)
    if not old or not new:  # a section added (a decision, mostly) or removed: difflib's one run
        return [["+", " ".join(new)]] if new else [["-", " ".join(old)]] if old else []
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    ops: list[list[str]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append(["=", " ".join(old[i1:i2])])
            continue
        if i2 > i1:
            ops.append(["-", " ".join(old[i1:i2])])
        if j2 > j1:
            ops.append(["+", " ".join(new[j1:j2])])
    return _trim_context(ops)


def _trim_context(ops: list[list[str]]) -> list[list[str]]:
    trimmed = []
    for index, (op, text) in enumerate(ops):
        if op != "=":
            trimmed.append([op, text])
            continue
        words = text.split(" ")
        first, last = index == 0, index == len(ops) - 1
        keep_head = words if first else words[:_CONTEXT_WORDS]
        keep_tail = words if last else words[-_CONTEXT_WORDS:]
        if first and not last:
            text = " ".join(["…", *keep_tail]) if len(words) > _CONTEXT_WORDS else text
        elif last and not first:
            text = " ".join([*keep_head, "…"]) if len(words) > _CONTEXT_WORDS else text
        elif not first and not last and len(words) > 2 * _CONTEXT_WORDS:
            text = " ".join([*keep_head, "…", *keep_tail])
        trimmed.append(["=", text])
    return trimmed


def render_diff(diff: Sequence[dict[str, object]]) -> str:
    """A readable diff: ``Section: … kept [-removed-] {+added+} …`` one section a line."""
    lines = []
    for entry in diff:
        parts = []
        for op, text in entry["ops"]:  # type: ignore[attr-defined]
            parts.append(text if op == "=" else f"[-{text}-]" if op == "-" else f"{{+{text}+}}")
        lines.append(f"{entry['section']}: {' '.join(parts)}")
    return "\n".join(lines)
