"""The HTTP client against real local servers: retries, Retry-After, 304, size and time limits,
redirects, per-host pacing and session cookies. No mocks of httpx; no wall-clock assertions
(sleeps are recorded through the injectable ``sleep``, never measured)."""

from __future__ import annotations

import itertools
import socket
import threading
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot import __version__
from bot.errors import FetchError
from bot.fetch import (
    Fetcher,
    FetchSettings,
    HTTPStatusError,
    retry_after_seconds,
    user_agent,
)
from bot.http_cache import StoreCache
from bot.store import Store

from .portal import LISTING, Reply, Server, running

FAST = FetchSettings(min_interval=0, timeout=2, connect_timeout=2)


class Sleeps(list[float]):
    """Records the sleeps the fetcher asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(round(seconds, 3))


def fetcher(sleeps: Sleeps | None = None, settings: FetchSettings = FAST, **kwargs: object) -> Fetcher:
    return Fetcher(settings, sleep=sleeps if sleeps is not None else Sleeps(), jitter=lambda: 0.5, **kwargs)  # type: ignore[arg-type]


def test_the_user_agent_names_the_bot_and_how_to_reach_whoever_runs_it(server: Server) -> None:
    server.raw("/doc", b"hello", "text/plain")
    with fetcher(settings=replace(FAST, contact="mailto:redaktion@example.dk")) as client:
        response = client.get(f"{server.url}/doc")
    assert response.content == b"hello" and response.status == 200
    assert server.requests[0].headers["user-agent"] == (
        f"referatvagt/{__version__} (municipal minutes change alerts; +mailto:redaktion@example.dk)"
    )
    assert user_agent() == f"referatvagt/{__version__} (municipal minutes change alerts)"


def test_5xx_then_success_is_retried_with_exponential_backoff(server: Server) -> None:
    server.script("/doc", Reply(status=500), Reply(status=503))
    server.raw("/doc", b"ok", "text/plain")
    sleeps = Sleeps()
    with fetcher(sleeps) as client:
        assert client.get(f"{server.url}/doc").content == b"ok"
    assert server.count("/doc") == 3
    assert sleeps == [1.0, 2.0], "backoff doubles (jitter pinned to the middle)"


def test_429_with_retry_after_waits_as_asked(server: Server) -> None:
    server.script("/doc", Reply(status=429, headers={"Retry-After": "7"}))
    server.raw("/doc", b"ok", "text/plain")
    sleeps = Sleeps()
    with fetcher(sleeps) as client:
        assert client.get(f"{server.url}/doc").content == b"ok"
    assert sleeps == [7.0] and server.count("/doc") == 2


def test_a_stopping_bot_cuts_a_retry_wait_short_and_requests_nothing_more(server: Server) -> None:
    server.script("/doc", Reply(status=503, headers={"Retry-After": "120"}))
    server.raw("/doc", b"ok", "text/plain")
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()  # SIGTERM while the fetcher waits as the server asked
    with Fetcher(FAST, stop=stop) as client:
        with pytest.raises(FetchError, match="503.*not tried again: the bot is stopping"):
            client.get(f"{server.url}/doc")
        with pytest.raises(FetchError, match="not requested: the bot is stopping"):
            client.get(f"{server.url}/other")
    assert server.paths() == ["/doc"]


def test_retry_after_may_be_an_http_date() -> None:
    now = datetime(2026, 5, 18, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("Mon, 18 May 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Mon, 18 May 2026 11:00:00 GMT", now) == 0.0, "a date in the past: no wait"
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("soon", now) is None


def test_a_server_asking_for_a_long_wait_fails_the_request_at_once(server: Server) -> None:
    server.script("/doc", Reply(status=503, headers={"Retry-After": "3600"}))
    with fetcher() as client, pytest.raises(FetchError, match=r"/doc: HTTP 503 .*asks to wait 3600 s"):
        client.get(f"{server.url}/doc")
    assert server.count("/doc") == 1


def test_a_permanent_500_is_one_line_naming_the_url_and_the_attempts(server: Server) -> None:
    server.routes["/api"] = Reply(status=500, body=b"boom")
    sleeps = Sleeps()
    with fetcher(sleeps) as client, pytest.raises(FetchError) as raised:
        client.get(f"{server.url}/api")
    assert str(raised.value) == f"{server.url}/api: HTTP 500 Internal Server Error (4 attempts)"
    assert server.count("/api") == 4 and sleeps == [1.0, 2.0, 4.0]


def test_client_errors_are_not_retried(server: Server) -> None:
    with fetcher() as client, pytest.raises(HTTPStatusError) as raised:
        client.get(f"{server.url}/missing")
    assert raised.value.status == 404 and str(raised.value) == f"{server.url}/missing: HTTP 404 Not Found"
    assert server.count("/missing") == 1


def test_a_timeout_is_retried_and_then_reported(server: Server) -> None:
    server.routes["/slow"] = Reply(body=b"late", delay=1.0)
    settings = FetchSettings(min_interval=0, timeout=0.2, connect_timeout=1, attempts=2)
    with fetcher(settings=settings) as client, pytest.raises(FetchError, match=r"/slow: timed out .*\(2 attempts\)"):
        client.get(f"{server.url}/slow")
    assert server.count("/slow") == 2


def test_a_refused_connection_is_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = FetchSettings(min_interval=0, attempts=2)
    with fetcher(settings=settings) as client, pytest.raises(FetchError, match=r"connection failed .*\(2 attempts\)"):
        client.get(f"http://127.0.0.1:{port}/x")


def test_a_response_over_the_size_limit_is_refused(server: Server) -> None:
    server.routes["/big"] = Reply(body=b"x" * 5000)
    server.routes["/streamed"] = Reply(body=b"y" * 5000, chunks=10)  # no Content-Length: counted while reading
    settings = FetchSettings(min_interval=0, max_bytes=1000)
    with fetcher(settings=settings) as client:
        with pytest.raises(FetchError, match=r"/big: response of 5000 bytes is larger than the limit of 1000 bytes"):
            client.get(f"{server.url}/big")
        with pytest.raises(FetchError, match=r"/streamed: response is larger than the limit of 1000 bytes"):
            client.get(f"{server.url}/streamed")
    assert server.count("/big") == 1, "a refused size is not retried"


def test_a_response_past_its_deadline_is_cut_off(server: Server) -> None:
    server.routes["/drip"] = Reply(body=b"z" * 5000, chunks=10)
    ticks = itertools.count()
    clock = lambda: float(next(ticks) * 100)  # noqa: E731  (each look at the clock: 100 s later)
    settings = FetchSettings(min_interval=0, deadline=150)
    with fetcher(settings=settings, clock=clock) as client:
        with pytest.raises(FetchError, match=r"/drip: response took longer than 150 s"):
            client.get(f"{server.url}/drip")


def test_redirects_are_followed_up_to_five(server: Server) -> None:
    for hop in range(3):
        server.routes[f"/r{hop}"] = Reply(status=302, headers={"Location": f"/r{hop + 1}"}, validators=False)
    server.raw("/r3", b"arrived", "text/plain")
    for hop in range(7):
        server.routes[f"/loop{hop}"] = Reply(status=301, headers={"Location": f"/loop{hop + 1}"}, validators=False)
    with fetcher() as client:
        response = client.get(f"{server.url}/r0")
        assert response.content == b"arrived" and response.redirected and response.final_url.endswith("/r3")
        with pytest.raises(FetchError, match=r"/loop0: more than 5 redirects"):
            client.get(f"{server.url}/loop0")


def test_conditional_get_sends_the_stored_validators_and_304_gives_the_kept_body(
    tmp_path: Path, server: Server
) -> None:
    server.raw("/list", b'{"a": 1}')
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "archive")
    cache = StoreCache(store, tmp_path / "http-cache")
    with fetcher(cache=cache) as client:
        first = client.get(f"{server.url}/list", conditional=True, keep_body=True)
        second = client.get(f"{server.url}/list", conditional=True, keep_body=True)
    assert "if-none-match" not in server.requests[0].headers
    assert server.requests[1].headers["if-none-match"].startswith('"'), "the ETag the server sent"
    assert not first.not_modified and second.not_modified and second.unchanged and second.status == 304
    assert second.content == first.content == b'{"a": 1}'
    server.raw("/list", b'{"a": 2}')
    with fetcher(cache=cache) as client:
        third = client.get(f"{server.url}/list", conditional=True, keep_body=True)
    assert third.content == b'{"a": 2}' and not third.unchanged
    kept = [path for path in (tmp_path / "http-cache").rglob("*") if path.is_file()]
    assert len(kept) == 1, "only the newest body of a URL is kept"
    store.close()


def test_without_a_kept_or_archived_body_the_request_is_not_conditional(tmp_path: Path, server: Server) -> None:
    server.raw("/doc.pdf", b"%PDF-1.4 minutes", "application/pdf")
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "archive")
    with fetcher(cache=StoreCache(store, tmp_path / "http-cache")) as client:
        client.get(f"{server.url}/doc.pdf", conditional=True)
        again = client.get(f"{server.url}/doc.pdf", conditional=True)
        assert "if-none-match" not in server.requests[1].headers, "a 304 would leave nothing to read"
        assert again.unchanged and not again.not_modified, "the same bytes are recognised by their hash"
        store.archive(again.content)  # the pipeline archives the documents it reads
        last = client.get(f"{server.url}/doc.pdf", conditional=True)
    assert "if-none-match" in server.requests[2].headers and last.not_modified
    assert last.content == b"%PDF-1.4 minutes"
    store.close()


def test_requests_to_one_host_keep_the_minimum_interval() -> None:
    with running(Server()) as one, running(Server()) as two:
        for srv in (one, two):
            srv.raw("/a", b"a", "text/plain")
            srv.routes["/hop"] = Reply(status=302, headers={"Location": "/a"}, validators=False)
        now = [0.0]
        sleeps = Sleeps()

        def sleep(seconds: float) -> None:
            sleeps(seconds)
            now[0] += seconds

        client = Fetcher(FetchSettings(min_interval=10), sleep=sleep, clock=lambda: now[0])
        with client:
            client.get(f"{one.url}/a")  # t=0
            client.get(f"{one.url}/a")  # waits 10
            client.get(f"{two.url}/a")  # another host: no wait
            client.get(f"{one.url}/hop")  # the request and its redirect hop: 10 each
            client.pace(two.url, 3)
            client.get(f"{two.url}/a")  # two's own interval now: 3 after its last request
            client.get(f"{two.url}/a")
    assert one.paths() == ["/a", "/a", "/hop", "/a"] and two.paths() == ["/a", "/a", "/a"]
    assert sleeps == [10.0, 10.0, 10.0, 3.0]


def test_a_session_is_opened_with_get_slash_once_per_host() -> None:
    with running(Server(session_cookie=True)) as srv:
        srv.raw(LISTING, b'{"Udvalg": {}}')
        with fetcher() as client:
            client.open_session(srv.url)
            client.open_session(srv.url + "/somewhere")  # same host: no second GET /
            response = client.get(srv.url + LISTING)
    assert response.content == b'{"Udvalg": {}}'
    assert srv.paths() == ["/", LISTING], "the cookie from / lets the API answer"
