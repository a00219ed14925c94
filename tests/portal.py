"""A real local HTTP server for fetch and source tests: a threaded ``http.server`` on 127.0.0.1
with a free port, serving scripted replies per path and recording every request it got.

It imitates a FirstAgenda host (``/``, ``/api/agenda/udvalgsliste``, ``/api/agenda/dagsorden/<id>``)
from the captured responses in ``../shared/firstagenda`` or from the small JSON builders below.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

LISTING = "/api/agenda/udvalgsliste"


def agenda_path(meeting_id: str) -> str:
    return f"/api/agenda/dagsorden/{meeting_id}"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (timeouts)
    validators: bool = True  # send an ETag and honour If-None-Match
    chunks: int = 0  # >0: send the body in this many chunks without Content-Length


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    query: str = ""


# Builds the reply to a path from its query parameters (a search endpoint); None: 404.
Handler = Callable[[dict[str, list[str]]], "Reply | None"]


class Server:
    """Routes (path → the reply, every time), scripts (path → replies used once, in order) and
    handlers (path → a function of the query). A route or script key with a ``?query`` matches
    that exact query before the bare path does."""

    def __init__(self, session_cookie: bool = False) -> None:
        self.routes: dict[str, Reply] = {}
        self.scripts: dict[str, list[Reply]] = {}
        self.handlers: dict[str, Handler] = {}
        self.requests: list[Seen] = []
        self.session_cookie = session_cookie  # API paths redirect to / until the cookie is sent
        self.lock = threading.Lock()
        self.httpd = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def paths(self) -> list[str]:
        with self.lock:
            return [seen.path for seen in self.requests]

    def count(self, path: str) -> int:
        return self.paths().count(path)

    def json(self, path: str, data: Any) -> None:
        self.routes[path] = Reply(body=json.dumps(data, ensure_ascii=False).encode(), headers=_JSON)

    def raw(self, path: str, body: bytes, content_type: str = "application/json; charset=utf-8") -> None:
        self.routes[path] = Reply(body=body, headers={"Content-Type": content_type})

    def script(self, path: str, *replies: Reply) -> None:
        self.scripts.setdefault(path, []).extend(replies)

    def html(self, path: str, body: str, content_type: str = "text/html; charset=utf-8") -> None:
        self.routes[path] = Reply(body=body.encode(), headers={"Content-Type": content_type})

    def reply_for(self, path: str, query: str = "") -> Reply | None:
        keys = [f"{path}?{query}", path] if query else [path]
        with self.lock:
            for key in keys:
                queue = self.scripts.get(key)
                if queue:
                    return queue.pop(0)
        for key in keys:
            if key in self.routes:
                return self.routes[key]
        handler = self.handlers.get(path)
        return handler(parse_qs(query, keep_blank_values=True)) if handler is not None else None


_JSON = {"Content-Type": "application/json; charset=utf-8"}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up (a timeout test)
            super().handle_error(request, client_address)


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            with server.lock:
                server.requests.append(Seen(path, {k.lower(): v for k, v in self.headers.items()}, query))
            cookie = "session=ok" in (self.headers.get("Cookie") or "")
            if server.session_cookie and path == "/":
                return self._send(Reply(body=b"<html><body>app</body></html>"), {"Set-Cookie": "session=ok; Path=/"})
            if server.session_cookie and path.startswith("/api/") and not cookie:
                return self._send(Reply(status=302, headers={"Location": "/"}, validators=False))
            reply = server.reply_for(path, query)
            if reply is None:
                reply = Reply(status=404, body=b"not found", validators=False) if path != "/" else Reply(body=b"home")
            self._send(reply)

        def _send(self, reply: Reply, extra: dict[str, str] | None = None) -> None:
            if reply.delay:
                time.sleep(reply.delay)
            headers = {**reply.headers, **(extra or {})}
            status, body = reply.status, reply.body
            if reply.validators and status == 200:
                etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
                headers["ETag"] = etag
                if self.headers.get("If-None-Match") == etag:
                    status, body = 304, b""
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if reply.chunks and status == 200:
                self.send_header("Connection", "close")
                self.end_headers()
                size = max(1, len(body) // reply.chunks)
                for start in range(0, len(body), size):
                    self.wfile.write(body[start : start + size])
                    self.wfile.flush()
                self.close_connection = True
                return
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running(server: Server) -> Iterator[Server]:
    thread = threading.Thread(target=server.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(5)


# --- FirstAgenda JSON in the portal's shape ----------------------------------------------------


def meeting(
    meeting_id: str, day: str, name: str = "Dagsorden", released: str = "2026-05-01T10:00:00+02:00", hour: int = 17
) -> dict[str, Any]:
    start = f"{day}T{hour:02d}:00:00+02:00"
    return {
        "Id": meeting_id,
        "MeetingBeginUtc": start,
        "MeetingEndUtc": None,
        "ReleasedDate": released,
        "Dato": start,
        "Sted": "Rådhuset ",
        "Afsluttet": name != "Dagsorden",
        "Moededeltagere": None,
        "Navn": name,
        "IsSupplementaryAgenda": False,
    }


def listing(committees: dict[str, list[dict[str, Any]]], period: str = "Udvalg 2026-2029") -> dict[str, Any]:
    return {
        "Udvalg": {
            period: [
                {"Id": f"c{index}", "Navn": name, "Moeder": meetings}
                for index, (name, meetings) in enumerate(committees.items())
            ]
        }
    }


def item(item_id: str, number: int, title: str, case: str, html: str, is_open: bool = True) -> dict[str, Any]:
    return {
        "Id": item_id,
        "Punktnummer": str(number),
        "Number": str(number),
        "Sorting": number,
        "Navn": title,
        "Caption": title,
        "SagsNummer": case,
        "CaseNumber": case,
        "IsOpen": is_open,
        "Bilag": [{"Id": f"{item_id}-b", "Navn": f"Bilag til punkt {number}"}],
        "Felter": [{"Html": html if is_open else "", "Link": "", "DocumentId": "0"}],
    }


def agenda(meeting_id: str, committee: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Id": meeting_id,
        "Udvalg": {"Id": "c0", "Navn": committee},
        "Moede": {
            "Id": "00000000-0000-0000-0000-000000000000",
            "Sted": "Rådhuset",
            "Moededeltagere": [
                {"Name": "Anne Andersen", "Absent": False},
                {"Name": "Bo Bech", "Absent": True},
            ],
        },
        "TillaegsDagsorden": False,
        "Dagsordenpunkter": items,
    }


def small_portal(server: Server, released: str = "2026-05-01T10:00:00+02:00", decided: bool = False) -> None:
    """A portal with one committee and one meeting of three items (two open, one closed)."""
    decision = "<h3>Beslutning i Økonomiudvalget den 18-05-2026</h3><span>Godkendt.</span>" if decided else ""
    items = [
        item(
            "i1",
            1,
            "Godkendelse af dagsorden",
            "26/1",
            f"<h3>Indstilling</h3><span>At dagsordenen godkendes.</span>{decision}",
        ),
        item("i2", 2, "Busplan 2027", "26/2", f"<h3>Sagsfremstilling</h3><p>Forslag til ny busplan.</p>{decision}"),
        item("i3", 3, "Lukket: Personalesag", "26/3", "", is_open=False),
    ]
    name = "Referat" if decided else "Dagsorden"
    server.json(LISTING, listing({"Økonomiudvalget": [meeting("m1", "2026-05-18", name, released)]}))
    server.json(agenda_path("m1"), agenda("m1", "Økonomiudvalget", items))


def write_portal_config(tmp_path: Path, *sources: str, bot: str = "", database_url: str | None = None) -> Path:
    """A config with the given ``[[source]]`` bodies (each without the header line), on the
    database of :func:`tests.helpers.database_line`."""
    from .helpers import database_line  # here: helpers imports the whole CLI, which portal tests may not need

    text = f'[bot]\nstate_dir = "state"\n{database_line(database_url)}{bot}\n'
    for body in sources:
        text += f"\n[[source]]\n{body.strip()}\n"
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def portal_source(name: str, url: str, extra: str = "") -> str:
    return f'name = "{name}"\nkommune = "{name.capitalize()}"\ntype = "firstagenda"\nurl = "{url}"\nmin_interval = 0\nsince = "2020-01-01"\n{extra}'
