"""Chat and webhook notifications (issue 16, point 1), through a real local HTTP receiver and
Apprise's own services: the versioned JSON body per match, its HMAC signature, exactly once,
retries with backoff, no backfill, nothing while paused, and secrets kept out of logs, status
and store; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import apprise
import pytest
from sqlmodel import select

from bot.config import load_config
from bot.match.matches import effective_watchlists
from bot.publish.claims import SendReport
from bot.publish.notify import send_due
from bot.publish.notify_targets import SIGNATURE_HEADER, instantiate, scrub
from bot.run import pipeline
from bot.run.pipeline import open_store
from bot.run.report import RunReport
from bot.run.scheduler import finish_leftovers
from bot.store import utcnow
from bot.store.models import Notification

from .helpers import decided, json_lines, put, run_cli, standard_agenda, write_config
from .receiver import Receiver, receiving
from .test_email import T0, cycle

pytestmark = pytest.mark.usefixtures("database")

SECRET = "hemmelig-signaturnøgle"
PASSWORD = "s3cr3t-hook-password"
BUSSER = 'title = "Busser og bæredygtig transport"\nterms = ["busplan"]\n[deliver]\ndigest = "{digest}"\n'


SAID: list[tuple[str, str]] = []  # what the in-process Apprise service below was told


@apprise.decorators.notify(on="rvtest")  # type: ignore[misc]
def _inbox(body: str, title: str, notify_type: str, *args: Any, **kwargs: Any) -> bool:
    """An Apprise service that needs no network (Apprise keeps one per schema: registered once)."""
    SAID.append((title, body))
    return True


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as running:
        yield running


def setup(tmp_path: Path, watchlist: str, notify: str = "", digest: str = "immediate") -> Path:
    """A folder source, one watchlist ``busser`` with these [deliver] lines, and [notify] lines."""
    config = write_config(tmp_path)
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f"\n[notify]\n{notify}")
    folder = tmp_path / "watchlists"
    folder.mkdir(exist_ok=True)
    (folder / "busser.toml").write_text(BUSSER.format(digest=digest) + watchlist, encoding="utf-8")
    return config


def news(tmp_path: Path, config: Path) -> RunReport:
    """A source's first read (backfill: never notified), then its minutes an hour later: one new
    match of ``busser`` (the decision on item 3, Busplan 2027)."""
    put(tmp_path, "dagsorden.md", standard_agenda())
    first = cycle(config, T0)
    assert first.errors == [] and (first.notify is None or first.notify.sent == 0)
    put(tmp_path, "referat.md", decided(standard_agenda()))
    return cycle(config, T0 + timedelta(hours=1))


def rows(config: Path) -> list[Notification]:
    with open_store(load_config(config)) as store, store.session() as session:
        return list(session.exec(select(Notification).order_by(Notification.id)))


def due(config: Path, now: datetime, **options: Any) -> SendReport:
    loaded = load_config(config)
    with open_store(loaded) as store:
        watchlists, _ = effective_watchlists(store, loaded.bot.watchlists_dir)
        return send_due(loaded, store, watchlists, now, **options)


def test_a_webhook_gets_one_signed_versioned_body_per_match_exactly_once(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFERATVAGT_WEBHOOK_SECRET", SECRET)
    config = setup(
        tmp_path,
        f'notify = ["json://{receiver.host}/hook"]\n',
        notify='webhook_secret_env = "REFERATVAGT_WEBHOOK_SECRET"\n',
    )
    report = news(tmp_path, config)
    assert report.errors == [] and report.notify is not None and report.notify.sent == 1
    assert "1 notification sent" in report.summary()
    (request,) = receiver.received
    assert request.method == "POST" and request.path == "/hook"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    body = request.json()
    (match,) = [m for m in json_lines(config, "matches") if not m["backfill"]]
    assert body == {
        "version": 1,
        "id": body["id"],
        "watchlist": {"slug": "busser", "title": "Busser og bæredygtig transport"},
        "match": match,
    }, "the fields of `matches --json`, as they are"
    assert body["id"].startswith("busser:") and match["title"] == "Busplan 2027" and match["decision_added"]
    # The receiver's check: HMAC-SHA256 of the raw body under the shared secret.
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers[SIGNATURE_HEADER.lower()], expected)
    # Two more cycles, one with nothing new and one with the same minutes again: nothing more.
    cycle(config, T0 + timedelta(hours=2))
    put(tmp_path, "referat.md", decided(standard_agenda()))
    cycle(config, T0 + timedelta(hours=3))
    assert len(receiver.received) == 1
    assert [(row.state, row.delivered) for row in rows(config) if row.period != "start"] == [("sent", 1)]
    status = run_cli(config, "status").stdout
    assert "0 notifications waiting to be sent; 1 sent; 0 failed notifications" in status


def test_a_failing_receiver_is_retried_after_the_backoff_and_served_once_and_secrets_stay_hidden(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("REFERATVAGT_HOOK", f"json://redaktion:{PASSWORD}@{receiver.host}/hook")
    config = setup(tmp_path, 'notify_env = ["REFERATVAGT_HOOK"]\n')
    receiver.statuses = [500]
    report = news(tmp_path, config)
    assert report.notify is not None and report.notify.failed == 1
    (error,) = report.errors
    assert "env:REFERATVAGT_HOOK: answered HTTP 500" in error
    assert [(row.state, row.attempts) for row in rows(config) if row.period != "start"] == [("pending", 1)]
    status = run_cli(config, "status").stdout
    assert "1 notification waiting to be sent" in status
    cycle(config, T0 + timedelta(hours=1, minutes=1))  # the first retry is due two minutes later
    assert len(receiver.received) == 1
    cycle(config, T0 + timedelta(hours=1, minutes=3))
    cycle(config, T0 + timedelta(hours=1, minutes=10))
    assert [request.status for request in receiver.received] == [500, 200]
    assert receiver.received[0].body == receiver.received[1].body, "the stored body, sent again"
    assert receiver.received[1].headers["authorization"].startswith("Basic "), "the URL's user and password"
    assert [(row.state, row.attempts) for row in rows(config) if row.period != "start"] == [("sent", 2)]
    # The secret was read from the environment when sending, and is nowhere else.
    stored = " ".join(f"{row.target} {row.last_error} {row.message} {row.payloads}" for row in rows(config))
    assert "env:REFERATVAGT_HOOK" in stored
    shown = stored + status + run_cli(config, "status").stdout + " ".join(error) + caplog.text
    assert PASSWORD not in shown and "redaktion:" not in shown


def test_backfill_and_a_new_watchlists_look_back_are_not_sent(tmp_path: Path, receiver: Receiver) -> None:
    config = setup(tmp_path, f'notify = ["json://{receiver.host}/hook"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    put(tmp_path, "referat.md", decided(standard_agenda()))
    cycle(config, T0)  # the source's first read: every match is a backfill
    (tmp_path / "watchlists" / "budget.toml").write_text(
        f'terms = ["budgetopfølgning"]\n[deliver]\ndigest = "immediate"\nnotify = ["json://{receiver.host}/ny"]\n',
        encoding="utf-8",
    )
    cycle(config, T0 + timedelta(hours=1))  # a new watchlist runs on stored items: not news either
    assert any(match["watchlist"] == "budget" for match in json_lines(config, "matches"))
    assert receiver.received == []


def test_a_paused_watchlist_is_sent_nothing(tmp_path: Path, receiver: Receiver) -> None:
    config = setup(tmp_path, f'notify = ["json://{receiver.host}/hook"]\n')
    path = tmp_path / "watchlists" / "busser.toml"
    path.write_text("paused = true\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    report = news(tmp_path, config)
    assert report.errors == [] and receiver.received == []
    assert due(config, T0 + timedelta(days=1), right_now=True).sent == 0
    assert receiver.received == []


def test_daily_notifications_go_out_once_at_the_digest_time(tmp_path: Path, receiver: Receiver) -> None:
    config = setup(tmp_path, f'notify = ["json://{receiver.host}/hook"]\n', digest="daily")
    news(tmp_path, config)
    assert receiver.received == [], "not after the cycle: at the daily time"
    next_morning = T0 + timedelta(hours=13)  # 08:00 in Copenhagen, after [email] daily_at's default 07:00
    report = due(config, next_morning)
    assert (report.built, report.sent, report.errors) == (1, 1, [])
    assert due(config, next_morning + timedelta(hours=1)).sent == 0
    assert len(receiver.received) == 1 and receiver.received[0].json()["match"]["title"] == "Busplan 2027"
    (row,) = [row for row in rows(config) if row.period != "start"]
    assert row.period == "daily:2026-11-03"


def test_a_target_added_later_is_not_sent_the_watchlists_history(tmp_path: Path, receiver: Receiver) -> None:
    config = setup(tmp_path, f'notify = ["json://{receiver.host}/first"]\n')
    news(tmp_path, config)
    path = tmp_path / "watchlists" / "busser.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("/first", '/first", "json://' + receiver.host + "/later"))
    cycle(config, T0 + timedelta(hours=2))
    assert [request.path for request in receiver.received] == ["/first"]
    put(tmp_path, "referat.md", decided(standard_agenda()).text().replace("tre nye linjer", "fire nye linjer"))
    cycle(config, T0 + timedelta(hours=3))
    assert sorted(request.path for request in receiver.received) == ["/first", "/first", "/later"]


def test_chat_services_get_a_short_text_through_apprise(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ntfy (Apprise's own service, to the local receiver) and an in-process Apprise service."""
    SAID.clear()
    monkeypatch.setenv("REFERATVAGT_NTFY", f"ntfy://laeser:{PASSWORD}@{receiver.host}/referatvagt-busser")
    config = setup(tmp_path, 'notify = ["rvtest://redaktion"]\nnotify_env = ["REFERATVAGT_NTFY"]\n')
    report = news(tmp_path, config)
    assert report.errors == [] and report.notify is not None and report.notify.sent == 2
    ((title, body),) = SAID
    assert title == "referatvagt: 1 punkt med beslutning – Busser og bæredygtig transport"
    assert "Beslutning: Punkt 3: Busplan 2027" in body and "Testrup · Økonomiudvalget 02.11.2026" in body
    (request,) = receiver.received
    assert request.headers["authorization"].startswith("Basic ")
    assert "Busplan 2027" in request.body.decode("utf-8") and "referatvagt-busser" in request.body.decode("utf-8")


def test_entries_of_the_apprise_config_file_are_named_by_tag(tmp_path: Path, receiver: Receiver) -> None:
    apprise_file = tmp_path / "apprise.yml"
    apprise_file.write_text(
        f"urls:\n  - json://{receiver.host}/redaktion:\n      tag: redaktion\n"
        f"  - json://{receiver.host}/andre:\n      tag: andre\n",
        encoding="utf-8",
    )
    config = setup(tmp_path, 'notify = ["tag:redaktion"]\n', notify=f'config = "{apprise_file}"\n')
    report = news(tmp_path, config)
    assert report.errors == []
    assert [request.path for request in receiver.received] == ["/redaktion"]
    assert {row.target for row in rows(config)} == {f"tag:redaktion json://{receiver.host}/redaktion"}


def test_a_watchlist_url_with_a_secret_is_refused_and_not_stored(tmp_path: Path, receiver: Receiver) -> None:
    config = setup(tmp_path, f'notify = ["json://redaktion:{PASSWORD}@{receiver.host}/hook"]\n')
    put(tmp_path, "dagsorden.md", standard_agenda())
    (error,) = cycle(config, T0).errors
    put(tmp_path, "referat.md", decided(standard_agenda()))
    assert cycle(config, T0 + timedelta(hours=1)).errors == [error]
    assert f"json://redaktion:****@{receiver.host}/hook holds a secret" in error and "notify_env" in error
    assert PASSWORD not in error and receiver.received == [] and rows(config) == []


def test_error_messages_lose_every_part_of_the_url_apprise_would_mask() -> None:
    server = instantiate("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#nyheder", shown="slack://…")
    said = "HTTPSConnectionPool: Max retries exceeded with url: /services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    cleaned = scrub(said, server)
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in cleaned and "A1BRTD4JD" not in cleaned
    assert cleaned.startswith("HTTPSConnectionPool: Max retries exceeded with url: /services/")


def test_notify_test_sends_a_sample_and_stores_nothing(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFERATVAGT_WEBHOOK_SECRET", SECRET)
    config = setup(tmp_path, "", notify='webhook_secret_env = "REFERATVAGT_WEBHOOK_SECRET"\n')
    result = run_cli(config, "notify", "--test", f"json://{receiver.host}/proeve")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"sample notification sent to json://{receiver.host}/proeve (signed)"
    (request,) = receiver.received
    body = request.json()
    assert body["version"] == 1 and body["watchlist"]["slug"] == "eksempel"
    assert body["match"]["kommune"] == "Eksempel Kommune" and "kontanthjælp" in body["match"]["snippet"]
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers[SIGNATURE_HEADER.lower()] == expected
    unset = run_cli(config, "notify", "--test", "env:REFERATVAGT_NOT_SET")
    assert unset.exit_code == 2 and "the environment variable REFERATVAGT_NOT_SET is not set" in unset.stderr


def test_an_idle_worker_sends_what_a_worker_that_died_after_matching_left(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = setup(tmp_path, f'notify = ["json://{receiver.host}/hook"]\n')
    now = utcnow()
    put(tmp_path, "dagsorden.md", standard_agenda())
    cycle(config, now - timedelta(hours=2))
    put(tmp_path, "referat.md", decided(standard_agenda()))
    monkeypatch.setattr(pipeline, "after_cycle", lambda *args: None)  # the worker dies after matching
    cycle(config, now - timedelta(hours=1))
    monkeypatch.undo()
    assert receiver.received == []
    loaded = load_config(config)
    with open_store(loaded) as store:
        watchlists, _ = effective_watchlists(store, loaded.bot.watchlists_dir)
        report = finish_leftovers(loaded, store, watchlists)
        assert report.notify is not None and report.notify.sent == 1
        assert finish_leftovers(loaded, store, watchlists).notify is None, "then nothing is left"
    assert len(receiver.received) == 1
