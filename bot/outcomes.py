"""Decision outcomes: what a committee decided, read from the Danish text of its decision.

``classify("Anbefales over for Økonomiudvalget og Kommunalbestyrelsen.")`` → ``anbefalet``.
The outcome is derived, never stored: a better rule applies to every stored decision at once.

How a decision is read (the README's "Decision outcomes" has the examples):

1. It is cut into sentences; a sentence whose subject is a minority ("Et mindretal (Ø) kunne ikke
   anbefale", "Ø tog forbehold", "V stemte imod") is *dissent*: kept aside, and its negations never
   turn the body's decision into ``ikke godkendt``.
2. It is cut into steps at "Ad 1.", "Ad 2." …; each step gets a label: a postponed case (``Sagen
   udsættes``) is ``udsat`` whatever else the step says; otherwise every verdict in the step
   counts, negations first ("anbefales ikke", "ikke godkendt" hide the verb they negate), and the
   highest ranked wins.
3. The steps' labels combine by the same rank: a decision that recommends or approves anything
   is ``anbefalet`` or ``godkendt`` even when a sub-point was rejected or postponed.

Rank, highest first: anbefalet, godkendt, ikke godkendt, oversendt, udsat, taget til efterretning,
orientering. So "Anbefales taget til efterretning" is ``anbefalet`` and "Orienteringen blev taget
til efterretning" is ``taget til efterretning``. Votes are read by :mod:`bot.outcome_votes`.
"""

from __future__ import annotations

import functools
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

    @property
    def text(self) -> str:
        """One line for feeds and mails: "anbefalet · 6 for, 2 imod · Et mindretal (Ø) kunne ikke anbefale."."""
        parts = [self.label]
        if self.votes is not None and (counts := _count_text(self.votes)):
            parts.append(counts)
        parts += self.dissent
        return " · ".join(parts)


def _count_text(votes: Votes) -> str:
    named = ((votes.for_, "for"), (votes.against, "imod"), (votes.abstained, "undlod"))
    counted = [f"{count} {word}" for count, word in named if count is not None]
    if counted:
        return ", ".join(counted)
    sides: dict[str, list[str]] = {}
    for party, side in votes.parties.items():
        sides.setdefault(side, []).append(party)
    return "; ".join(f"{side}: {', '.join(parties)}" for side, parties in sides.items())


RANK = ("anbefalet", "godkendt", "ikke godkendt", "oversendt", "udsat", "taget til efterretning", "orientering")

_I = re.IGNORECASE
# A postponed case: the case (not some amount or date in it) is put off.
_POSTPONED = re.compile(
    r"^\W*(?:udsat|udsættes|udskudt|udskydes)\b|\budsat til\b"
    r"|\b(?:sagen|punktet|behandlingen|beslutningen|forslaget|indstillingen)\s+(?:\w+\s+){0,2}?"
    r"(?:blev\s+|bliver\s+|er\s+)?(?:udsat|udsættes|udskudt|udskydes)\b"
    r"|\b(?:udsætte|udsætter|udsatte|udskyde|udskød)\s+(?:sagen|punktet|behandlingen|beslutningen)\b",
    _I,
)
# Negations first: each hides the verb it negates from the positive rules below.
_NEGATIVE = re.compile(
    r"\b(?:anbefales|godkendes|tiltrædes|vedtages|imødekommes|bevilges)\s+ikke\b(?:\s+godkendt\b)?"
    r"|\b(?:kunne|kan|vil|ville)\s+ikke\s+(?:\w+\s+)?(?:anbefale|godkende|tiltræde|vedtage|støtte|imødekomme)s?\b"
    r"|\bikke\s+(?:at\s+)?(?:\w+\s+)?(?:godkendt|godkende|anbefalet|anbefale|tiltrådt|tiltræde|vedtaget|imødekommet|bevilget)\b"
    r"|\bforkast\w*|\bafvis(?:es|te)?\b|\bafvist\b|\bfaldt\b|\bnedstemt\b",
    _I,
)
_POSITIVE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("anbefalet", re.compile(r"\banbefal(?:es|et|ede|er|e)\b|\bmed (?:en |udvalgets )?anbefaling\b", _I)),
    (
        "godkendt",
        re.compile(
            r"\bgodkend(?:t|es|er|te|e)\b|\btil(?:t)?r(?:å|aa)d(?:t|te)\b|\btiltræd(?:es|er|e)\b|\bvedtag(?:et|es)\b"
            r"|\bvedtog\b|\bbevilge[st]\b|\bimødekomm(?:et|es)\b|\bsom indstillet\b|\bindstillingen (?:blev )?fulgt\b"
            r"|\bindstillingen følges\b",
            _I,
        ),
    ),
    (
        "oversendt",
        re.compile(r"\b(?:over|videre|tilbage)send\w*|\bsend(?:es|t|te)\s+(?:\w+\s+){0,2}?(?:videre|tilbage)\b", _I),
    ),
    ("taget til efterretning", re.compile(r"\btil efterretning\b|\befterretning(?:en)?\b", _I)),
    ("orientering", re.compile(r"\borienter(?:et|ede|es|er|ing|ingen)\b", _I)),
)
_STEP = re.compile(r"(?=\bAd\s+\d)")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÆØÅ(])|\n\s*\n")
_MARKUP = re.compile(r"\*\*|__|\{\+|\+\}|\[-|-\]")


# Outcomes read, by decision text: a publish shows each case's steps on every page of the case (a
# tenth of a year: 99,166 reads of 16,537 pages' cases, 1,855 distinct texts), and stock texts
# ("Godkendt.") recur all year. Bounded, as a long-running bot sees every text of every year; the
# cached outcomes are shared, so never change one.
_READ = 1 << 14


@functools.lru_cache(maxsize=_READ)
def classify(text: str | None) -> Outcome | None:
    """The outcome of a decision text; None when there is no decision (yet)."""
    if text is None or not text.strip():
        return None
    from bot.outcome_votes import dissent_start, parse_votes  # it imports Votes from here

    plain = _MARKUP.sub("", text)
    sentences = [" ".join(part.split()) for part in _SENTENCE.split(plain) if part and part.strip()]
    starts = [dissent_start(sentence) for sentence in sentences]
    dissent = tuple(sentence for sentence, start in zip(sentences, starts, strict=True) if start is not None)
    # The body's own words: a minority's clause cut off ("Godkendt, idet V stemte imod" → "Godkendt, idet ")
    own = [sentence[:start] for sentence, start in zip(sentences, starts, strict=True)]
    labels = [_step_label(step) for step in _steps(own)]
    return Outcome(_best(labels), parse_votes(" ".join(plain.split()), sentences), dissent)


def _steps(sentences: list[str]) -> list[list[str]]:
    """The sentences of each step ("Ad 1. …", "Ad 2. …"); one step when the decision has none."""
    steps: list[list[str]] = [[]]
    for sentence in sentences:
        for piece in _STEP.split(sentence):
            if _STEP.match(piece):
                steps.append([])
            if piece.strip():
                steps[-1].append(_without_step_number(piece.strip()))
    return [step for step in steps if step]


def _step_label(step: list[str]) -> str | None:
    """A step's label: ``udsat`` when it postpones the case, else its highest ranked verdict."""
    if any(_POSTPONED.search(sentence) for sentence in step):
        return "udsat"
    found = set()
    for sentence in step:
        rest, negated = _NEGATIVE.subn(" ¤ ", sentence)
        if negated:
            found.add("ikke godkendt")
        found.update(label for label, rule in _POSITIVE if rule.search(rest))
    return _best(list(found)) if found else None


def _without_step_number(sentence: str) -> str:
    return re.sub(r"^\W*Ad\s+\d[\w.\-–]*\s*", "", sentence)


def _best(labels: list[str | None]) -> str:
    known = [label for label in labels if label is not None]
    return min(known, key=RANK.index) if known else "andet"


def outcome_name(raw: str) -> str:
    """A watchlist's outcome name, with its aliases (``forkastet``) read as the outcome they name."""
    return ALIASES.get(raw.strip().lower(), raw.strip().lower())
