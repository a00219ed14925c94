"""The one HTTP client (httpx): polite, bounded and robust.

Polite: an honest User-Agent naming the project, a minimum interval between two requests to
the same host (redirect hops and retries included), conditional GET with the validators stored
per URL (``If-None-Match``/``If-Modified-Since`` → ``304 Not Modified``), ``Retry-After``
honoured, and a first ``GET /`` per host for portals that hand out a session cookie.

Bounded: connect timeout 5 s, read timeout 20 s, a total deadline per response (the read
timeout is per read, so a server dripping bytes is cut off too), a maximum response size
enforced while streaming, at most 5 redirects, a bounded number of attempts, and a time budget
per source poll (:meth:`Fetcher.polling`) that also cuts timeouts and waits short. A redirect to
another host is refused unless the polled source's own URL is on that host: a portal that sends
its readers elsewhere must not have that content stored under its name.

Robust: GET requests are retried on timeouts, connection errors, 429 and 5xx with exponential
backoff and jitter. Every failure is a :class:`~bot.errors.FetchError` whose message is one line
naming the URL and the reason, e.g. ``https://host/api: HTTP 500 Internal Server Error (4 attempts)``.

    FetchError
    └── HTTPStatusError    the server answered with an error status (``.status``)
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from bot import __version__
from bot.errors import FetchError, OutOfTime, Stopping


def user_agent(contact: str = "") -> str:
    """Names the bot and, when the config gives one, how a portal's operator reaches its runner."""
    reach = f"; +{contact}" if contact else ""
    return f"referatvagt/{__version__} (municipal minutes change alerts{reach})"


_RETRY_STATUS = frozenset({429, 500, 502, 503, 504, 507, 508, 520, 521, 522, 523, 524})


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class FetchSettings:
    """Limits of the client; tests shrink them, the defaults suit real portals."""

    timeout: float = 20.0  # seconds per read (and write, and pool wait)
    connect_timeout: float = 5.0
    deadline: float = 120.0  # seconds for one whole response, headers to last byte
    max_bytes: int = 50 * 2**20
    max_redirects: int = 5
    attempts: int = 4  # one try plus three retries
    backoff: float = 1.0  # first retry after about this many seconds, doubling each time
    max_backoff: float = 60.0
    max_retry_after: float = 300.0  # a server asking for a longer wait fails the request instead
    min_interval: float = 1.0  # seconds between two requests to one host, unless a source sets its own
    contact: str = ""  # [bot] contact, in the User-Agent


@dataclass(frozen=True)
class Response:
    """A successful response: 2xx, or 304 with the body that the cache kept."""

    url: str  # as asked for
    final_url: str  # after redirects
    status: int
    content: bytes
    content_type: str
    fetched_at: datetime
    not_modified: bool = False  # the server said 304: ``content`` comes from the cache
    unchanged: bool = False  # same bytes as last time (304, or an identical body)
    last_modified: datetime | None = None

    @property
    def redirected(self) -> bool:
        return self.final_url != self.url

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class Cached:
    """What the cache knows of a URL: its validators and, when kept, the body they belong to."""

    etag: str | None
    last_modified: str | None
    sha256: str
    content: bytes | None


class Cache(Protocol):
    def load(self, url: str) -> Cached | None: ...

    def save(self, url: str, etag: str | None, last_modified: str | None, content: bytes, keep_body: bool) -> None: ...


@dataclass
class _Retry(Exception):
    reason: str
    wait: float | None = None  # from Retry-After; None: exponential backoff


@dataclass
class _Pacer:
    """The per-host minimum interval; thread-safe, so sources may poll in parallel."""

    default: float
    clock: Callable[[], float]
    sleep: Callable[[float], object]
    intervals: dict[str, float] = field(default_factory=dict)
    next_slot: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, host: str) -> None:
        with self.lock:
            now = self.clock()
            start = max(now, self.next_slot.get(host, now))
            self.next_slot[host] = start + self.intervals.get(host, self.default)
        if start > now:
            self.sleep(start - now)


class Fetcher:
    """One client for a whole run: cookies, pacing and connections are shared by every source."""

    def __init__(
        self,
        settings: FetchSettings | None = None,
        cache: Cache | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings or FetchSettings()
        self.cache = cache
        # With a stop event every wait (pacing, backoff, Retry-After) ends as soon as it is set,
        # so a stopping bot never sits out a server's five-minute Retry-After.
        self._stop = stop
        if sleep is None:
            sleep = stop.wait if stop is not None else time.sleep
        self._sleep, self._clock, self._jitter = sleep, clock, jitter
        self._pacer = _Pacer(self.settings.min_interval, clock, sleep)
        self._sessions: set[str] = set()
        self._home: str | None = None  # the host of the source being polled
        self._until: float | None = None  # the end of its time budget (on ``clock``)
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.settings.timeout, connect=self.settings.connect_timeout),
            follow_redirects=False,  # followed in _once, where the target host is checked
            headers={"User-Agent": user_agent(self.settings.contact), "Accept-Language": "da, en;q=0.5"},
            transport=transport,
            event_hooks={"request": [self._before_request]},
        )

    # --- the public interface ---------------------------------------------------------------

    def pace(self, url: str, seconds: float) -> None:
        """At least ``seconds`` between requests to the host of ``url`` (the larger wins when
        two sources on one host ask for different intervals)."""
        host = host_key(httpx.URL(url))
        with self._pacer.lock:
            self._pacer.intervals[host] = max(seconds, self._pacer.intervals.get(host, 0.0))

    @contextmanager
    def polling(self, source_url: str | None, budget: float) -> Iterator[None]:
        """Requests made for one source's poll: redirects may lead to its host only, and once
        ``budget`` seconds are spent the next request, retry or wait raises :class:`OutOfTime`."""
        self._home = _hostname(httpx.URL(source_url)) if source_url else None
        self._until = self._clock() + budget
        try:
            yield
        finally:
            self._home, self._until = None, None

    def open_session(self, base_url: str, again: bool = False) -> None:
        """``GET /`` once per host, so a portal can set the session cookie its API wants."""
        root = httpx.URL(base_url).copy_with(path="/", query=None, fragment=None)
        host = host_key(root)
        if host in self._sessions and not again:
            return
        try:
            self.get(str(root))
        except HTTPStatusError as exc:
            if exc.status >= 500:
                raise
            # A front page answering 404 does not mean the API is missing: go on.
        self._sessions.add(host)

    def get(
        self, url: str, *, conditional: bool = False, keep_body: bool = False, max_bytes: int | None = None
    ) -> Response:
        """GET ``url``; raises :class:`FetchError` naming the URL and the reason.

        ``conditional`` sends the stored validators and, on ``304``, returns the cached body
        (from the raw archive, or from the cache folder when ``keep_body`` kept it). Validators
        and the body's hash are stored after every successful response. ``max_bytes`` replaces
        the settings' size limit for this request (an attachment has its own cap).
        """
        cached = self.cache.load(url) if conditional and self.cache is not None else None
        headers: dict[str, str] = {}
        if cached is not None and cached.content is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        attempts = max(1, self.settings.attempts)
        for attempt in range(1, attempts + 1):
            try:
                response, etag, last_modified = self._once(url, headers, cached, max_bytes)
            except _Retry as retry:
                if attempt == attempts:
                    tries = f" ({attempts} attempts)" if attempts > 1 else ""
                    raise FetchError(f"{url}: {retry.reason}{tries}") from None
                self._sleep(self._within_budget(retry.wait if retry.wait is not None else self._backoff(attempt)))
                self._check_stop(f"{url}: {retry.reason}; not tried again")
                continue
            if self.cache is not None and not response.not_modified:
                self.cache.save(url, etag, last_modified, response.content, keep_body)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- one attempt ------------------------------------------------------------------------

    def _before_request(self, request: httpx.Request) -> None:
        self._pacer.wait(host_key(request.url))
        self._check_stop(f"{request.url}: not requested")

    def _check_stop(self, what: str) -> None:
        if self._stop is not None and self._stop.is_set():
            raise Stopping(f"{what}: the bot is stopping")
        if self._until is not None and self._clock() >= self._until:
            raise OutOfTime(f"{what}: the source's time budget for this poll is used up")

    def _within_budget(self, seconds: float) -> float:
        """A wait or timeout cut to what is left of the poll's budget (a little more, so that
        the check after it finds the budget spent)."""
        if self._until is None:
            return seconds
        return max(0.01, min(seconds, self._until - self._clock() + 0.01))

    def _once(
        self, url: str, headers: dict[str, str], cached: Cached | None, max_bytes: int | None = None
    ) -> tuple[Response, str | None, str | None]:
        started, give_up = self._clock(), self._within_budget(self.settings.deadline)
        timeout = httpx.Timeout(
            self._within_budget(self.settings.timeout), connect=self._within_budget(self.settings.connect_timeout)
        )
        request = self._client.build_request("GET", url, headers=headers, timeout=timeout)
        try:
            for _ in range(self.settings.max_redirects + 1):
                answer = self._client.send(request, stream=True)
                try:
                    if answer.next_request is None:
                        return self._read(url, answer, cached, started, give_up, max_bytes)
                    request = self._redirect(url, answer.next_request)
                finally:
                    answer.close()
            raise FetchError(f"{url}: more than {self.settings.max_redirects} redirects")
        except httpx.TimeoutException as exc:
            raise _Retry(f"timed out ({_describe(exc)})") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FetchError(f"{url}: not a URL that can be fetched ({exc})") from None
        except httpx.TransportError as exc:
            raise _Retry(f"connection failed ({_describe(exc)})") from None
        except httpx.HTTPError as exc:  # e.g. a body that does not decode as its Content-Encoding says
            raise FetchError(f"{url}: {_describe(exc)}") from None

    def _redirect(self, url: str, hop: httpx.Request) -> httpx.Request:
        """The next hop of a redirect, if it stays on the host asked for or the source's host."""
        target, asked = _hostname(hop.url), _hostname(httpx.URL(url))
        if target not in (asked, self._home):
            home = f"; the source's url is on {self._home}" if self._home and self._home != asked else ""
            raise FetchError(
                f"{url}: redirected to another host, {target} (asked {asked}{home}); not followed. "
                f"If the site has moved, set the source's url to its address on {target}"
            )
        return hop

    def _read(
        self,
        url: str,
        answer: httpx.Response,
        cached: Cached | None,
        started: float,
        give_up: float,
        max_bytes: int | None = None,
    ) -> tuple[Response, str | None, str | None]:
        status = answer.status_code
        reason = f"HTTP {status} {answer.reason_phrase}".strip()
        if status == 304 and cached is not None and cached.content is not None:
            response = self._response(url, answer, cached.content, not_modified=True, unchanged=True)
            return response, cached.etag, cached.last_modified
        if status in _RETRY_STATUS:
            raise _Retry(reason, self._retry_after(url, answer, reason))
        if not 200 <= status < 300:
            raise HTTPStatusError(f"{url}: {reason}", status)
        limit = max_bytes or self.settings.max_bytes
        declared = answer.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(f"{url}: response of {int(declared)} bytes is larger than the limit of {limit} bytes")
        body = bytearray()
        for chunk in answer.iter_bytes():
            body += chunk
            if len(body) > limit:
                raise FetchError(f"{url}: response is larger than the limit of {limit} bytes; stopped reading")
            if self._clock() - started > give_up:
                raise FetchError(f"{url}: response took longer than {give_up:.0f} s; stopped reading")
        content = bytes(body)
        unchanged = cached is not None and cached.sha256 == hashlib.sha256(content).hexdigest()
        response = self._response(url, answer, content, not_modified=False, unchanged=unchanged)
        return response, answer.headers.get("ETag"), answer.headers.get("Last-Modified")

    def _response(
        self, url: str, answer: httpx.Response, content: bytes, not_modified: bool, unchanged: bool
    ) -> Response:
        return Response(
            url=url,
            final_url=str(answer.url),
            status=answer.status_code,
            content=content,
            content_type=answer.headers.get("Content-Type", ""),
            fetched_at=datetime.now(timezone.utc),
            not_modified=not_modified,
            unchanged=unchanged,
            last_modified=http_date(answer.headers.get("Last-Modified")),
        )

    def _retry_after(self, url: str, answer: httpx.Response, reason: str) -> float | None:
        value = answer.headers.get("Retry-After")
        if value is None:
            return None
        wait = retry_after_seconds(value)
        if wait is not None and wait > self.settings.max_retry_after:
            raise FetchError(f"{url}: {reason}; the server asks to wait {wait:.0f} s before trying again")
        return wait

    def _backoff(self, attempt: int) -> float:
        base = min(self.settings.max_backoff, self.settings.backoff * 2.0 ** (attempt - 1))
        return float(base * (0.5 + self._jitter()))


# --- helpers ----------------------------------------------------------------------------------


def _hostname(url: httpx.URL) -> str:
    return url.host.lower().rstrip(".")


def host_key(url: httpx.URL) -> str:
    """``host:port``: the unit that pacing and sessions are kept per."""
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.host}:{port}"


def retry_after_seconds(value: str, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: a number of seconds or an HTTP date; None if unreadable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = http_date(value)
    if when is None:
        return None
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _describe(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
