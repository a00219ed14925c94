"""A made-up match, stored nowhere, with every field a real one has: what `digest --test` and
`notify --test` send to check a relay or a chat target."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.match.watchlists import Watchlist
from bot.publish.digest_render import Pending
from bot.publish.entries import Row
from bot.store.models import Document, Item, ItemVersion, Match, Meeting, SourceState

SAMPLE = Watchlist(slug="eksempel", title="Eksempel på en watchlist", terms=("kontanthjælp",))


def sample(now: datetime) -> Pending:
    """A made-up match, stored nowhere, with every field a real one has."""
    said = "Aftalen om et nyt kontanthjælpssystem træder i kraft, og udvalget orienteres om konsekvenserne."
    start = said.index("kontanthjælp")
    match = Match(
        watchlist=SAMPLE.slug,
        item_id=0,
        version_id=0,
        kind="new",
        terms=["kontanthjælp"],
        snippet=said,
        highlights=[[start, start + 19]],
        created_at=now,
    )
    item = Item(uid="eksempel", meeting_id=0, number=1, title="Orientering om det nye kontanthjælpssystem")
    version = ItemVersion(
        item_id=0,
        version=1,
        document_id=0,
        doc_kind="dagsorden",
        content_hash="",
        title=item.title,
        url="https://example.org/vis?id=eksempel",
        created_at=now,
    )
    meeting = Meeting(
        source_id=0,
        committee="Social- og Arbejdsmarkedsudvalget",
        committee_key="",
        meeting_date=now.date(),
        kind="dagsorden",
    )
    source = SourceState(name="eksempel", kommune="Eksempel Kommune", type="folder")
    document = Document(
        source_id=0,
        key="eksempel",
        raw_sha256="",
        fetched_at=now,
        published_at=now - timedelta(hours=2),
        outcome="stored",
    )
    return Pending(match, Row(item, version, meeting, source, document), None)
