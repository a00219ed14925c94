"""Email digests through a real SMTP server (aiosmtpd on 127.0.0.1): exactly once, readable, safe;
from a store on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlmodel import select, update

from bot.config import load_config
from bot.run.pipeline import open_store, run_cycle
from bot.store.models import Outbox

from .helpers import Doc, decided, put, run_cli, standard_agenda, write_config
from .webtools import free_port

pytestmark = pytest.mark.usefixtures("database")

T0 = datetime(2026, 11, 2, 18, 0, tzinfo=timezone.utc)
CASES = Path(__file__).parent / "cases"


@dataclass
class Inbox:
    """What the SMTP server accepted, and who it refuses."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpts, message in self.messages if address in rcpts]


@dataclass
class Server:
    inbox: Inbox
    port: int
    controller: Controller | None = None

    def start(self, **options: Any) -> None:
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, server_hostname="smtp.test", **options
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[Server]:
    server = Server(Inbox(), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def setup(tmp_path: Path, port: int, email: str = "", **watchlists: str) -> Path:
    config = write_config(tmp_path)
    with config.open("a", encoding="utf-8") as handle:
        handle.write(
            f'\n[email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nfrom = "vagt@example.org"\n{email}'
        )
    folder = tmp_path / "watchlists"
    folder.mkdir()
    for slug, text in watchlists.items():
        (folder / f"{slug}.toml").write_text(text, encoding="utf-8")
    return config


def outbox(config: Path) -> list[tuple[str, int]]:
    """(state, attempts) of every stored message."""
    with open_store(load_config(config)) as store, store.session() as session:
        return [(message.state, message.attempts) for message in session.exec(select(Outbox).order_by(Outbox.id))]


def cycle(config: Path, now: datetime, send_backfill: bool = False) -> Any:
    loaded = load_config(config)
    with open_store(loaded) as store:
        return run_cycle(loaded, store, now, send_backfill=send_backfill)


BUSSER = 'title = "Busser og bæredygtig transport"\nterms = ["busplan"]\n[deliver]\nemail = ["laeser@example.org"]\ndigest = "immediate"\n'


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_an_immediate_digest_arrives_once_with_both_parts_and_correct_danish(tmp_path: Path, smtp: Server) -> None:
    config = setup(tmp_path, smtp.port, busser=BUSSER)
    put(tmp_path, "dagsorden.md", standard_agenda())
    first = cycle(config, T0)
    assert smtp.inbox.messages == [], "a source's first ingest fills the feeds, not the inboxes"
    assert first.mail is not None and first.mail.sent == 0
    put(tmp_path, "referat.md", decided(standard_agenda()))
    report = cycle(config, T0 + timedelta(hours=1))
    assert report.mail.sent == 1 and report.errors == []
    ((rcpts, message),) = smtp.inbox.messages
    assert rcpts == ["laeser@example.org"]
    assert message["Subject"] == "referatvagt: 1 punkt med beslutning – Busser og bæredygtig transport"
    assert message.get_content_type() == "multipart/alternative"
    text, html = parts(message)
    assert (
        "Beslutning: Punkt 3: Busplan 2027" in text and "Testrup" in text and "Økonomiudvalget, møde 02.11.2026" in text
    )
    assert "Beslutning: Godkendt." in text
    assert "watchlists/busser.toml" in text.replace("\n", " ") or "busser.toml" in text
    assert "<strong>" in html and "Busplan 2027" in html and "bæredygtig" in html
    assert message["List-Id"].endswith(".referatvagt.example.org>")
    assert message["List-Unsubscribe"].startswith("<mailto:vagt@example.org?subject=unsubscribe")
    assert cycle(config, T0 + timedelta(hours=2)).mail.sent == 0
    assert len(smtp.inbox.messages) == 1, "a second run sends nothing new"


def test_send_backfill_emails_a_sources_first_ingest(tmp_path: Path, smtp: Server) -> None:
    config = setup(tmp_path, smtp.port, busser=BUSSER)
    put(tmp_path, "dagsorden.md", standard_agenda())
    result = run_cli(config, "ingest", "--send-backfill")
    assert result.exit_code == 0, result.stderr
    assert "1 email sent" in result.stdout
    assert len(smtp.inbox.messages) == 1


def test_no_matches_no_email(tmp_path: Path, smtp: Server) -> None:
    config = setup(tmp_path, smtp.port, quiet=BUSSER.replace("busplan", "skybrud"))
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, T0, send_backfill=True)
    assert smtp.inbox.messages == []


def test_an_outage_keeps_the_digest_pending_and_it_arrives_exactly_once(tmp_path: Path) -> None:
    server = Server(Inbox(), free_port())  # not started: the relay is down
    config = setup(tmp_path, server.port, busser=BUSSER)
    put(tmp_path, "dagsorden.md", standard_agenda())
    report = cycle(config, T0, send_backfill=True)
    assert report.mail.sent == 0 and report.mail.failed == 1
    assert any("cannot send through 127.0.0.1" in error for error in report.errors)
    assert cycle(config, T0 + timedelta(seconds=30)).mail.failed == 0, "backoff: no retry yet"
    server.start()
    try:
        assert cycle(config, T0 + timedelta(minutes=5)).mail.sent == 1
        assert cycle(config, T0 + timedelta(minutes=10)).mail.sent == 0
        assert len(server.inbox.messages) == 1
    finally:
        server.stop()
    assert outbox(config) == [("sent", 2)]


def test_a_crash_after_claiming_resends_the_same_message(tmp_path: Path, smtp: Server, database: str) -> None:
    """A digest left "sending" by a worker that died is sent again. On SQLite at once (one process
    writes at a time, so its claimer is gone); on PostgreSQL once its claim has run out (until then
    the claimer may be another worker, still sending it)."""
    config = setup(tmp_path, smtp.port, busser=BUSSER)
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, T0, send_backfill=True)
    with open_store(load_config(config)) as store, store.session() as session:
        # as if its worker was killed between claim and "sent", its claim good for five more minutes
        claim = {"state": "sending", "lease_owner": "a worker that died", "lease_until": T0 + timedelta(minutes=5)}
        session.exec(update(Outbox).values(**claim))  # type: ignore[call-overload]
    cycle(config, T0 + timedelta(minutes=1))
    if database:
        assert len(smtp.inbox.messages) == 1, "while its claim lasts, the worker that claimed it may still send it"
        cycle(config, T0 + timedelta(minutes=6))
    first, second = (message for _, message in smtp.inbox.messages)
    assert first["Message-ID"] == second["Message-ID"], "the one possible duplicate is recognisable"
    assert [state for state, _ in outbox(config)] == ["sent"]


def test_a_refused_recipient_does_not_block_the_others(tmp_path: Path, smtp: Server) -> None:
    both = BUSSER.replace('email = ["laeser@example.org"]', 'email = ["ok@example.org", "nej@example.org"]')
    config = setup(tmp_path, smtp.port, busser=both)
    smtp.inbox.refuse.add("nej@example.org")
    put(tmp_path, "dagsorden.md", standard_agenda())
    report = cycle(config, T0, send_backfill=True)
    assert report.mail.sent == 1 and report.mail.failed == 1
    assert [rcpts for rcpts, _ in smtp.inbox.messages] == [["ok@example.org"]]
    assert any("nej@example.org: refused by the server (550" in error for error in report.errors)


def test_daily_digests_go_out_at_their_time_once_a_day(tmp_path: Path, smtp: Server) -> None:
    daily = BUSSER.replace('digest = "immediate"', 'digest = "daily"')
    config = setup(tmp_path, smtp.port, 'daily_at = "07:00"\n', busser=daily)
    put(tmp_path, "dagsorden.md", standard_agenda())
    assert cycle(config, T0, send_backfill=True).mail.sent == 0, "daily digests wait for their time"
    loaded = load_config(config)
    from bot.match.watchlists import load_watchlists
    from bot.publish.digest import send_due

    watchlists, _ = load_watchlists(loaded.bot.watchlists_dir)
    morning = datetime(2026, 11, 3, 6, 5, tzinfo=timezone.utc)  # 07:05 in Copenhagen
    with open_store(loaded) as store:
        assert send_due(store, loaded, watchlists, morning, right_now=False).sent == 1
        assert send_due(store, loaded, watchlists, morning + timedelta(hours=3), right_now=False).sent == 0
    ((_, message),) = smtp.inbox.messages
    assert "dagligt overblik 2026-11-03" in parts(message)[0]


def test_digest_now_and_dry_run(tmp_path: Path, smtp: Server) -> None:
    daily = BUSSER.replace('digest = "immediate"', 'digest = "weekly"')
    config = setup(tmp_path, smtp.port, busser=daily)
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, T0, send_backfill=True)
    result = run_cli(config, "digest", "--now", "--dry-run", str(tmp_path / "eml"))
    assert result.exit_code == 0 and result.stdout.strip() == f"1 digest written to {tmp_path / 'eml'}; nothing sent"
    (eml,) = (tmp_path / "eml").glob("*.eml")
    assert message_from_bytes(eml.read_bytes(), policy=policy.default)["Subject"].startswith(
        "referatvagt: 1 ældre punkt"
    )
    assert smtp.inbox.messages == []
    result = run_cli(config, "digest", "--now")
    assert result.exit_code == 0 and "1 sent" in result.stdout
    assert run_cli(config, "digest", "--now").stdout.strip() == "0 digests built; 0 sent; 0 failed"
    assert len(smtp.inbox.messages) == 1


def test_headers_are_safe_from_injection_and_long_digests_are_cut(tmp_path: Path, smtp: Server) -> None:
    evil = 'title = "Evil\\r\\nBcc: spion@example.org"\nterms = ["sag"]\n[deliver]\nemail = ["a@example.org"]\ndigest = "immediate"\n'
    config = setup(tmp_path, smtp.port, "max_items = 3\n", evil=evil)
    doc = Doc()
    for number in range(1, 8):
        doc.item(number, f"Sag nummer {number}", f"26/{number}", Indstilling="Godkendes.")
    put(tmp_path, "dagsorden.md", doc)
    cycle(config, T0, send_backfill=True)
    ((rcpts, message),) = smtp.inbox.messages
    assert rcpts == ["a@example.org"] and message["Bcc"] is None
    assert (
        "\n" not in message["Subject"]
        and message["Subject"] == "referatvagt: 7 ældre punkter – Evil Bcc: spion@example.org"
    )
    text, _ = parts(message)
    assert "… og 4 punkter mere: http://127.0.0.1:8080/evil.xml" in text


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"vagt" and auth_data.password == b"hemmelig"
    return AuthResult(success=ok, handled=False)  # handled=False: the server replies 535 itself


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_starttls_or_ssl_with_auth_against_the_same_server(
    tmp_path: Path, security: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = Server(Inbox(), free_port())
    # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; an implicit-TLS connection is TLS anyway
    tls: dict[str, Any] = (
        {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
        if security == "starttls"
        else {"ssl_context": context, "auth_require_tls": False}
    )
    server.start(authenticator=_authenticator, **tls)
    try:
        extra = f'security = "{security}"\nusername = "vagt"\npassword_env = "RV_SMTP_PASSWORD"\nca_file = "{cert}"\n'
        config = setup(tmp_path, server.port, busser=BUSSER)
        text = config.read_text(encoding="utf-8").replace('security = "none"\n', extra)
        config.write_text(text, encoding="utf-8")
        put(tmp_path, "dagsorden.md", standard_agenda())
        monkeypatch.setenv("RV_SMTP_PASSWORD", "forkert")
        assert cycle(config, T0, send_backfill=True).mail.failed == 1, "a wrong password is refused"
        monkeypatch.setenv("RV_SMTP_PASSWORD", "hemmelig")
        assert cycle(config, T0 + timedelta(hours=1)).mail.sent == 1
        assert len(server.inbox.messages) == 1
    finally:
        server.stop()


def test_digest_test_sends_a_sample(tmp_path: Path, smtp: Server) -> None:
    config = setup(tmp_path, smtp.port)
    result = run_cli(config, "digest", "--test", "ny@example.org")
    assert result.exit_code == 0, result.stderr
    ((rcpts, message),) = smtp.inbox.messages
    assert rcpts == ["ny@example.org"] and "kontanthjælp" in parts(message)[0]


def test_the_rendered_text_part_matches_the_reference(tmp_path: Path) -> None:
    from bot.publish.digest_render import compose
    from bot.publish.sample import SAMPLE, sample

    config = load_config(setup(tmp_path, 25))
    assert config.email is not None
    when = datetime(2026, 11, 3, 7, 0, tzinfo=timezone.utc)
    message = compose(config, config.email, "læser@example.org", [SAMPLE], [sample(when)], "daily:2026-11-03", when)
    text = parts(message)[0]
    reference = CASES / "digest.txt"
    assert text == reference.read_text(encoding="utf-8"), "the text part changed: check it and update cases/digest.txt"


def test_an_address_with_danish_letters_goes_through_a_server_with_smtputf8(tmp_path: Path) -> None:
    server = Server(Inbox(), free_port())
    server.start(enable_SMTPUTF8=True)
    try:
        config = setup(tmp_path, server.port, busser=BUSSER.replace("laeser@", "læser@"))
        put(tmp_path, "dagsorden.md", standard_agenda())
        assert cycle(config, T0, send_backfill=True).mail.sent == 1
        assert [rcpts for rcpts, _ in server.inbox.messages] == [["læser@example.org"]]
    finally:
        server.stop()


def test_without_smtputf8_such_an_address_is_a_clear_error(tmp_path: Path) -> None:
    server = Server(Inbox(), free_port())
    server.start(enable_SMTPUTF8=False)
    try:
        config = setup(tmp_path, server.port, busser=BUSSER.replace("laeser@", "læser@"))
        put(tmp_path, "dagsorden.md", standard_agenda())
        report = cycle(config, T0, send_backfill=True)
    finally:
        server.stop()
    assert report.mail.failed == 1
    assert any("does not accept addresses with non-ASCII letters" in error for error in report.errors)
