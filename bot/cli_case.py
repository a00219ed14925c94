"""`referatvagt case KOMMUNE CASE_NUMBER`: one case's whole story, oldest step first."""

from __future__ import annotations

import json

import click
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from bot.cases import CARRIED, Case, CaseStep, find_case, step_json
from bot.cli_help import HasConfig, example
from bot.publish.digest_words import one_line
from bot.publish.pages import page_url
from bot.run.pipeline import open_store
from bot.store.models import Item, Meeting, SourceState
from bot.wording import plural

_DECISION_CHARS = 300  # of a decision in the text listing: --json has it whole
_SIMILAR = 5


class _NotFound(click.ClickException):
    exit_code = 2


@click.command(
    "case",
    epilog=example(
        "referatvagt case Lindholm 26/14523",
        "referatvagt case Egeskov 26-1-00.01.00-A00 --json",
    ),
)
@click.argument("kommune")
@click.argument("case_number")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per step (JSON Lines).")
@click.pass_obj
def case(obj: HasConfig, kommune: str, case_number: str, as_json: bool) -> None:
    """Show a case's whole story: every stored item with CASE_NUMBER in KOMMUNE, across its
    committees and meetings, with the earlier decisions agendas quote, oldest first.

    Each step gives the committee, the meeting date, the decision and its outcome (godkendt,
    anbefalet, udsat, …), and the item's page. An unknown kommune or case is an error
    (exit code 2) that names what the store has.
    """
    config = obj.config
    with open_store(config, read_only=True) as store, store.session() as session:
        found = find_case(session, kommune, case_number)
        if found is None:
            raise _NotFound(_not_found(session, kommune, case_number))

    def page_of(uid: str) -> str:
        return page_url(config, uid)

    for step in found.steps:
        if as_json:
            click.echo(json.dumps(step_json(found, step, page_of), ensure_ascii=False))
        else:
            click.echo(_step_text(step, page_of(step.uid) if step.uid else None))
    if not as_json:
        click.echo(_summary(found))


def _step_text(step: CaseStep, page: str | None) -> str:
    if step.kind == CARRIED and step.carrier is not None:
        carrier = step.carrier
        what = f"beslutning, citeret i {carrier.committee} {carrier.date.strftime('%d.%m.%Y')} punkt {carrier.number}"
    else:
        what = f"{step.kind}, punkt {step.number}: {one_line(step.title or '')}"
    lines = [f"{step.day}  {step.committee}  [{step.verdict}]", f"    {what}"]
    if step.decision:
        text = one_line(step.decision)
        lines.append(f"    {text if len(text) <= _DECISION_CHARS else text[: _DECISION_CHARS - 1] + '…'}")
    lines += [f"    {address}" for address in (page, step.link) if address]
    return "\n".join(lines)


def _summary(found: Case) -> str:
    committees = {step.committee for step in found.steps}
    return (
        f"Sag {found.case_number} i {found.kommune}: {plural(len(found.steps), 'step')} "
        f"in {plural(len(committees), 'committee')}"
    )


def _not_found(session: Session, kommune: str, case_number: str) -> str:
    """Names what exists: the kommuner with items, or what this kommune's case numbers look like."""
    known = sorted(set(session.execute(sa_select(col(SourceState.kommune))).scalars()))
    named = [name for name in known if name.casefold() == kommune.casefold()]
    if not named:
        return f"no kommune {kommune!r} in the store (kommuner: {', '.join(known) or 'none yet'})"
    in_kommune = (
        sa_select(col(Item.case_number))
        .join(Meeting, col(Meeting.id) == col(Item.meeting_id))
        .join(SourceState, col(SourceState.id) == col(Meeting.source_id))
        .where(col(SourceState.kommune) == named[0], col(Item.case_number).is_not(None))
    )
    newest = session.execute(in_kommune.order_by(col(Meeting.meeting_date).desc()).limit(1)).scalar()
    if newest is None:
        return f"no case {case_number} in {named[0]}: no item there has a case number"
    message = f"no case {case_number} in {named[0]}; cases look like {newest}"
    typed = case_number.strip()
    similar = session.execute(
        in_kommune.where(col(Item.case_number).contains(typed, autoescape=True)).distinct().limit(_SIMILAR)
    ).scalars()
    close = sorted(similar)
    return message + (f" (similar: {', '.join(close)})" if close and typed else "")
