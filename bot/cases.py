"""A case's whole story: every stored item with the same case number in one kommune, across its
committees and meetings, plus the earlier committees' decisions an agenda carries inside one item
(FirstAgenda agendas quote every decision taken on the case so far).

The case number is compared collapsed (:func:`bot.parse.minutes.collapse`: whitespace runs as one
space), which is how every source stores it, so the store is asked for the exact value. A decision
carried in an item and a stored item of the same committee on the same day are one step: the
stored item wins (it has a page and a link), taking the carried text when it has no decision of its
own yet. Outcomes are derived here, never stored (:func:`bot.outcomes.classify`).

A lookup is one query by ``item.case_number``, for one case or a few hundred at once (item pages,
mails); it is a plain scan of the item table until that column has an index.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.outcomes import Outcome, classify
from bot.parse.minutes import collapse, committee_key
from bot.store.models import Event, Item, ItemVersion, Meeting, SourceState

CARRIED = "beslutning"  # the kind of a step known only from the decision another item quotes
_KIND_ORDER = {CARRIED: 0, "dagsorden": 1, "tillægsdagsorden": 1, "referat": 2}
_IN_LIST = 500  # case numbers per query


@dataclass(frozen=True)
class Carrier:
    """The stored item whose text quotes a carried decision."""

    item_id: int
    uid: str
    committee: str
    date: date
    number: int | None


@dataclass(frozen=True)
class CaseStep:
    """One step of a case: a stored item (its current version), or a decision another item quotes."""

    committee: str
    date: date | None
    kind: str  # the item's document kind (dagsorden, tillægsdagsorden, referat), or CARRIED
    decision: str | None
    item_id: int | None = None  # None for a carried decision (see ``carrier``)
    uid: str | None = None
    number: int | None = None
    title: str | None = None
    link: str | None = None  # the item (else its meeting) on the kommune's own site
    source: str | None = None
    carrier: Carrier | None = None

    @property
    def outcome(self) -> Outcome | None:
        return classify(self.decision)

    @property
    def day(self) -> str:
        return self.date.strftime("%d.%m.%Y") if self.date else "udateret"

    def short(self) -> str:
        """ "Økonomiudvalget 12.05.2026: anbefalet" ("… på dagsordenen" before a decision)."""
        return f"{self.committee} {self.day}: {self.verdict}"

    @property
    def verdict(self) -> str:
        """The outcome's label, or why there is none."""
        outcome = self.outcome
        if outcome is not None:
            return outcome.label
        return "uden beslutning" if self.kind == "referat" else "på dagsordenen"


@dataclass(frozen=True)
class Case:
    kommune: str
    case_number: str
    steps: tuple[CaseStep, ...]


@dataclass(frozen=True)
class _Row:
    """What a timeline needs of one stored item: a few columns, never its sections."""

    item_id: int
    uid: str
    number: int | None
    case_number: str
    title: str
    doc_kind: str
    decision: str | None
    decisions: list[dict[str, Any]]
    url: str | None
    committee: str
    meeting_date: date
    meeting_url: str | None
    kommune: str
    source: str


_COLUMNS = (
    col(Item.id),
    col(Item.uid),
    col(Item.number),
    col(Item.case_number),
    col(ItemVersion.title),
    col(ItemVersion.doc_kind),
    col(ItemVersion.decision),
    col(ItemVersion.decisions),
    col(ItemVersion.url),
    col(Meeting.committee),
    col(Meeting.meeting_date),
    col(Meeting.url),
    col(SourceState.kommune),
    col(SourceState.name),
)


def _rows(session: Session, numbers: Collection[str]) -> list[_Row]:
    """The current versions of the items (not removed) with one of these case numbers."""
    current = and_(col(ItemVersion.item_id) == col(Item.id), col(ItemVersion.version) == col(Item.current_version))
    found: list[_Row] = []
    wanted = sorted(numbers)
    for start in range(0, len(wanted), _IN_LIST):
        query = (
            sa_select(*_COLUMNS)
            .join(ItemVersion, current)
            .join(Meeting, col(Meeting.id) == col(Item.meeting_id))
            .join(SourceState, col(SourceState.id) == col(Meeting.source_id))
            .where(col(Item.case_number).in_(wanted[start : start + _IN_LIST]), col(Item.removed).is_(False))
        )
        found += [_Row(*row) for row in session.execute(query)]
    return found


def stories(session: Session, wanted: Iterable[tuple[str, str | None]]) -> dict[tuple[str, str], list[CaseStep]]:
    """The timelines of several cases at once, keyed by (kommune casefolded, case key): one query
    for a chunk of item pages or a digest's items. Pairs without a case number are ignored."""
    keys = {(kommune.casefold(), collapse(number)) for kommune, number in wanted if number and number.strip()}
    if not keys:
        return {}
    grouped: dict[tuple[str, str], list[_Row]] = {}
    for row in _rows(session, {number for _, number in keys}):
        key = (row.kommune.casefold(), collapse(row.case_number))
        if key in keys:
            grouped.setdefault(key, []).append(row)
    return {key: timeline(rows) for key, rows in grouped.items()}


def story_key(kommune: str, case_number: str | None) -> tuple[str, str] | None:
    """The key of an item's case in :func:`stories`; None for an item without a case number."""
    return (kommune.casefold(), collapse(case_number)) if case_number and case_number.strip() else None


def find_case(session: Session, kommune: str, case_number: str) -> Case | None:
    """One case of one kommune (names compared without case); None when no item has it."""
    key = story_key(kommune, case_number)
    if key is None:
        return None
    rows = [row for row in _rows(session, {key[1]}) if row.kommune.casefold() == key[0]]
    return Case(rows[0].kommune, key[1], tuple(timeline(rows))) if rows else None


def case_alert(session: Session, version: ItemVersion) -> str | None:
    """The text of a case watchlist's match on this version: :func:`arrival_note` for its case."""
    source = (
        sa_select(col(SourceState.kommune))
        .join(Meeting, col(Meeting.source_id) == col(SourceState.id))
        .join(Item, col(Item.meeting_id) == col(Meeting.id))
        .where(col(Item.id) == version.item_id)
    )
    kommune: str | None = session.execute(source).scalar()
    key = story_key(kommune, version.case_number) if kommune else None
    if kommune is None or key is None:
        return None
    return arrival_note(stories(session, [(kommune, version.case_number)]).get(key, []), version.item_id)


def timeline(rows: Sequence[_Row]) -> list[CaseStep]:
    """The stored items as steps, with the decisions they carry merged in, oldest first."""
    stored = [_stored_step(row) for row in rows]
    carried: list[CaseStep] = []
    for row in rows:
        carrier = Carrier(row.item_id, row.uid, row.committee, row.meeting_date, row.number)
        for quoted in row.decisions:
            step = _carried_step(quoted, carrier)
            if step is None:
                continue
            twin = next((s for s in stored if _same_step(s, step)), None)
            if twin is not None:
                if twin.decision is None:  # the minutes of that meeting are not (yet) stored
                    stored[stored.index(twin)] = _with_decision(twin, step.decision)
            elif not any(_same_step(other, step) for other in carried):
                carried.append(step)
    # Stable: on one day, stored items by committee and number, quotes in the order the agenda gives them
    stored.sort(key=lambda step: (committee_key(step.committee), step.number or 0))
    return sorted([*stored, *carried], key=_order)


def _stored_step(row: _Row) -> CaseStep:
    return CaseStep(
        committee=row.committee,
        date=row.meeting_date,
        kind=row.doc_kind,
        decision=row.decision,
        item_id=row.item_id,
        uid=row.uid,
        number=row.number,
        title=row.title,
        link=_web(row.url) or _web(row.meeting_url),
        source=row.source,
    )


def _carried_step(quoted: dict[str, Any], carrier: Carrier) -> CaseStep | None:
    """A decision quoted in an item; None for the item's own (no committee named: a bare
    ``Beslutning``) and for empty ones."""
    committee, text = quoted.get("committee"), quoted.get("text")
    if not committee or not isinstance(text, str) or not text.strip():
        return None
    day = _date(quoted.get("date"))
    return CaseStep(committee=str(committee), date=day, kind=CARRIED, decision=text, carrier=carrier)


def _same_step(a: CaseStep, b: CaseStep) -> bool:
    """The same committee on the same day (a quoted name may lack or add the election period)."""
    if a.date != b.date:
        return False
    first, second = committee_key(a.committee), committee_key(b.committee)
    same_body = first == second or first.startswith(second) or second.startswith(first)
    # Undated quotes are told apart by their text: two undated decisions of one committee differ
    return same_body and (a.date is not None or a.decision == b.decision)


def _with_decision(step: CaseStep, decision: str | None) -> CaseStep:
    return CaseStep(**{**step.__dict__, "decision": decision})


def _order(step: CaseStep) -> tuple[date, int]:
    # An undated quote happened before the item quoting it
    day = step.date or (step.carrier.date if step.carrier else date.max)
    return (day, _KIND_ORDER.get(step.kind, 1))


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _web(url: Any) -> str | None:
    # as bot.publish.page_view.web_link (which cannot be imported here: page_data uses this module)
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


# --- views of a story -----------------------------------------------------------------------------


def own_step(steps: Sequence[CaseStep], item_id: int) -> CaseStep | None:
    return next((step for step in steps if step.item_id == item_id), None)


def earlier(steps: Sequence[CaseStep], item_id: int, meeting_date: date) -> list[CaseStep]:
    """The steps before this item's meeting: other items', and the decisions quoted in any."""
    return [step for step in steps if step.item_id != item_id and _order(step)[0] < meeting_date]


def arrival_note(steps: Sequence[CaseStep], item_id: int, shown: int = 3) -> str | None:
    """What a case watchlist's alert says: where the case is now and its outcome so far, e.g.
    "Sagen er nu på Kommunalbestyrelsens dagsorden. Hidtil: Økonomiudvalget 12.05.2026: anbefalet."."""
    mine = own_step(steps, item_id)
    if mine is None or mine.date is None:
        return None
    outcome = mine.outcome
    if outcome is None:
        note = f"Sagen er nu på {_agenda_of(mine.committee)} {mine.day}."
    else:
        note = f"Sagen er behandlet i {mine.committee} {mine.day}: {outcome.label}."
    before = earlier(steps, item_id, mine.date)
    if before:
        more = len(before) - shown
        lines = "; ".join(step.short() for step in before[-shown:])
        note += f" Hidtil: {'… ' if more > 0 else ''}{lines}."
    return note


def _agenda_of(committee: str) -> str:
    """ "Kommunalbestyrelsens dagsorden"; a name ending in a period ("… 2022-2025") or in s gets
    "dagsordenen i …" instead of an awkward genitive."""
    last = committee.rstrip()[-1:]
    if last.isalpha() and last.casefold() not in "sxz":
        return f"{committee}s dagsorden"
    return f"dagsordenen i {committee}"


def step_json(case: Case, step: CaseStep, page_of: Callable[[str], str]) -> dict[str, Any]:
    """One step as ``case --json`` prints it; ``page_of`` gives an item's page address by uid."""
    outcome = step.outcome
    carrier = step.carrier
    return {
        "kommune": case.kommune,
        "case_number": case.case_number,
        "committee": step.committee,
        "meeting_date": step.date.isoformat() if step.date else None,
        "kind": step.kind,
        "number": step.number,
        "title": step.title,
        "decision": step.decision,
        **(outcome.as_json() if outcome else {"outcome": None, "votes": None, "dissent": []}),
        "page": page_of(step.uid) if step.uid else None,
        "url": step.link,
        "source": step.source,
        "quoted_in": None
        if carrier is None
        else {
            "committee": carrier.committee,
            "meeting_date": carrier.date.isoformat(),
            "number": carrier.number,
            "page": page_of(carrier.uid),
        },
    }


def neighbours_of_changed(since_event: int) -> Any:
    """The items sharing a case number with an item that has an event after ``since_event``: their
    pages show that item's step, so they are rendered again with it (a query for page_data)."""
    changed_cases = (
        sa_select(col(Item.case_number))
        .join(Event, col(Event.item_id) == col(Item.id))
        .where(col(Event.id) > since_event, col(Item.case_number).is_not(None))
        .distinct()
    )
    return sa_select(col(Item.id)).where(col(Item.case_number).in_(changed_cases))
