"""What a run did: the counters printed after it, and every error and warning."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.publish.claims import SendReport
from bot.publish.feeds import FeedReport
from bot.wording import plural


@dataclass
class RunReport:
    """Counters printed after each run, plus every error message."""

    documents: int = 0
    unchanged: int = 0
    new: int = 0
    changed: int = 0
    removed: int = 0
    matches: int = 0
    feeds: FeedReport = field(default_factory=FeedReport)
    mail: SendReport | None = None
    notify: SendReport | None = None  # chat and webhook notifications
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # not failures, but worth a look
    watchlist_errors: int = 0  # how many of ``errors`` are broken watchlist files

    @property
    def exit_code(self) -> int:
        """1 when a document, the feeds or an email failed; 3 when only watchlist files have errors
        (the cycle ran with the others); else 0."""
        if len(self.errors) > self.watchlist_errors:
            return 1
        return 3 if self.watchlist_errors else 0

    def summary(self) -> str:
        email = ""
        if self.mail is not None:
            failed = self.mail.failed + self.mail.gave_up
            email = f"{plural(self.mail.sent, 'email')} sent"
            email += f" ({failed} failed); " if failed else "; "
        if self.notify is not None and (self.notify.sent or self.notify.failed or self.notify.gave_up):
            failed = self.notify.failed + self.notify.gave_up
            email += f"{plural(self.notify.sent, 'notification')} sent" + (f" ({failed} failed); " if failed else "; ")
        return (
            f"{plural(self.documents, 'document')} read ({self.unchanged} unchanged): "
            f"{self.new} new, {self.changed} changed, {self.removed} removed items; "
            f"{plural(self.matches, 'new match', 'new matches')}; {email}"
            f"{plural(len(self.errors), 'error')}"
        )
