"""Decision outcomes: what a committee decided, read from the Danish text of its decision.

``classify("Anbefales over for Økonomiudvalget og Kommunalbestyrelsen.")`` → ``anbefalet``.
The outcome is derived, never stored: a better rule applies to every stored decision at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# The outcomes, in the order a reader cares about them; `andet` when no rule applies.
OUTCOMES = (
    "godkendt",
    "anbefalet",
    "ikke godkendt",
    "udsat",
    "oversendt",
    "taget til efterretning",
    "orientering",
    "andet",
)
# Other names a watchlist may use for an outcome.
ALIASES = {"forkastet": "ikke godkendt", "afvist": "ikke godkendt"}


@dataclass(frozen=True)
class Votes:
    """A vote where the decision states one: counts, and each party's side where named."""

    for_: int | None = None
    against: int | None = None
    abstained: int | None = None
    parties: dict[str, str] = field(default_factory=dict)  # party letter or name → "for" | "imod" | "undlod"


@dataclass(frozen=True)
class Outcome:
    label: str
    votes: Votes | None = None
    dissent: tuple[str, ...] = ()  # sentences that record a minority's view

    def as_json(self) -> dict[str, Any]:
        votes = None
        if self.votes is not None:
            votes = {
                "for": self.votes.for_,
                "against": self.votes.against,
                "abstained": self.votes.abstained,
                "parties": self.votes.parties,
            }
        return {"outcome": self.label, "votes": votes, "dissent": list(self.dissent)}


_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("udsat", re.compile(r"\budsat\b|\budsættes\b", re.IGNORECASE)),
    ("ikke godkendt", re.compile(r"\bikke (?:godkendt|godkendes|anbefalet|anbefales)\b|\bforkast|\bafvist", re.I)),
    ("anbefalet", re.compile(r"\banbefal", re.IGNORECASE)),
    ("oversendt", re.compile(r"\boversend", re.IGNORECASE)),
    ("taget til efterretning", re.compile(r"til efterretning", re.IGNORECASE)),
    ("godkendt", re.compile(r"\bgodkend|\btiltrådt\b|\btiltrædes\b", re.IGNORECASE)),
    ("orientering", re.compile(r"\borienter", re.IGNORECASE)),
)


def classify(text: str | None) -> Outcome | None:
    """The outcome of a decision text; None when there is no decision (yet)."""
    if text is None or not text.strip():
        return None
    for label, rule in _RULES:
        if rule.search(text):
            return Outcome(label)
    return Outcome("andet")


def outcome_name(raw: str) -> str:
    """A watchlist's outcome name, with its aliases (``forkastet``) read as the outcome they name."""
    return ALIASES.get(raw.strip().lower(), raw.strip().lower())
