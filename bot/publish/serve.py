"""Serve the feed folder over HTTP: ``referatvagt serve``.

The feeds are plain files and any web server can publish them; this one lets a reader
subscribe without setting one up. Standard library only (``http.server``): GET and HEAD,
with ETag and Last-Modified so polling feed readers mostly get ``304 Not Modified``.

Private feeds are protected only by their unguessable path, hence these rules:
- Only regular files of the kinds the bot writes are served (``.xml`` RSS, ``.atom``,
  ``.html``, ``.opml``, a folder source's ``.pdf``); anything else and every directory is 404:
  no listings, so ``/private/`` reveals nothing.
- The path is percent-decoded once (invalid UTF-8: 400) and refused if it holds a NUL, a
  backslash or a part starting with ``.`` (``..``, hidden files, temp files of atomic writes);
  the rest is resolved, symlinks included, and must lie inside the folder.

A big file (a folder source's PDF) must not let a few readers exhaust the machine, hence
:class:`Limits`:
- A file is sent in 64 KiB chunks from the open file, so memory per request is constant; HEAD and
  ``304`` read none of it, as the ETag comes from the file's identity, size and mtime, not its bytes.
- At most ``requests`` requests are handled at once. A request beyond that waits up to
  ``slot_wait`` seconds for a slot, then gets ``503 Service Unavailable`` with ``Retry-After``.
  Only a request being answered holds a slot; an idle keep-alive connection does not.
- A connection idle for ``timeout`` seconds is closed, and a reader that takes longer than that
  to accept one chunk is dropped, freeing its slot: a stalled or trickling client cannot keep one.

Pages computed on request (``pages``: the search page, :mod:`bot.publish.search_web`) answer their exact
paths before any file is looked for; a ``200`` carries an ETag of its bytes and gets ``304`` by the
same rules as a file. A request no file answers is offered to ``make`` (the item pages no feed has
linked yet, :class:`bot.publish.pages.PagesOnRequest`), which may write the file into the folder; it is
then served as any other (or, where the folder cannot be written, gives the reply itself).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import unquote_to_bytes

from bot.errors import BotError

CONTENT_TYPES = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".pdf": "application/pdf",  # a folder source's PDF document, linked from feed entries
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CHUNK = 64 * 1024  # bytes read and sent at a time
RETRY_AFTER = 10  # seconds a client refused with 503 is asked to wait


@dataclass(frozen=True)
class Limits:
    """What one server lets its clients take (see the module docstring)."""

    requests: int = 16  # answered at once; each holds an open file and a busy thread
    slot_wait: float = 5.0  # seconds a request beyond that waits for a slot before 503
    timeout: float = 15.0  # seconds of idleness, or to accept one chunk, before a connection is dropped


@dataclass(frozen=True)
class Page:
    """A reply computed on request (the search page), not read from a file: sent with an ETag of its
    bytes, and a ``200`` with the same ``304`` rules as a file."""

    status: int
    content_type: str
    body: bytes
    cache: str = "no-cache"  # Cache-Control
    modified: float | None = None  # Last-Modified as a timestamp; None: validated by the ETag alone
    headers: tuple[tuple[str, str], ...] = ()  # more headers, e.g. Retry-After


Pages = Mapping[str, Callable[[str], Page]]  # request path → what computes the page from the request target
Make = Callable[[str], Page | bool]  # a request path no file answers → whether it wrote that file, or the reply


class FeedServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its folder; idle keep-alive connections never block closing."""

    block_on_close = False

    def __init__(
        self, folder: Path, host: str, port: int, quiet: bool, limits: Limits, pages: Pages, make: Make | None
    ) -> None:
        self.folder = folder.resolve()
        self.pages = pages
        self.make = make
        self.quiet = quiet
        self.limits = limits
        self.slots = threading.BoundedSemaphore(limits.requests)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), FeedHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall on a slow resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])


class FeedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(cast(FeedServer, self.server).limits.timeout)

    def version_string(self) -> str:
        return "referatvagt"

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.command not in ("GET", "HEAD"):
            self._reply(405, {"Allow": "GET, HEAD"})
            return False
        return True

    def do_GET(self) -> None:
        server = cast(FeedServer, self.server)
        if not server.slots.acquire(timeout=server.limits.slot_wait):
            return self._reply(503, {"Retry-After": str(RETRY_AFTER)})
        try:
            self._answer()
        except OSError:  # the client went away or stalled past the timeout: nothing left to tell it
            self.close_connection = True
        finally:
            server.slots.release()

    do_HEAD = do_GET

    def _answer(self) -> None:
        server = cast(FeedServer, self.server)
        compute = server.pages.get(self.path.split("?", 1)[0])
        if compute is not None:
            return self._send_page(compute(self.path))
        path = self._locate(self.path)
        made = server.make(self.path.split("?", 1)[0]) if path == 404 and server.make is not None else False
        if isinstance(made, Page):
            return self._send_page(made)
        if made:
            path = self._locate(self.path)
        if isinstance(path, int):
            return self._reply(path)
        try:
            file = path.open("rb")
        except OSError:
            return self._reply(404)
        with file:  # headers and body from one open file, so an atomic replace cannot mix versions
            stat = os.fstat(file.fileno())
            etag, modified = _etag(stat), self.date_time_string(stat.st_mtime)
            headers = {"ETag": etag, "Last-Modified": modified, "Cache-Control": "max-age=300"}
            if self._not_modified(etag, stat.st_mtime):
                return self._reply(304, headers)
            content = {"Content-Type": CONTENT_TYPES[path.suffix], "Content-Length": str(stat.st_size)}
            self._send_head(200, {**content, **headers})
            if self.command == "GET":
                self._send_body(file, stat.st_size)

    def _send_page(self, page: Page) -> None:
        headers = {"Cache-Control": page.cache, **dict(page.headers)}
        if page.status == 200:
            headers["ETag"] = f'"{hashlib.sha256(page.body).hexdigest()[:32]}"'
            if page.modified is not None:
                headers["Last-Modified"] = self.date_time_string(page.modified)
            if self._not_modified(headers["ETag"], page.modified):
                return self._reply(304, headers)
        content = {"Content-Type": page.content_type, "Content-Length": str(len(page.body))}
        self._send_head(page.status, {**content, **headers})
        if self.command == "GET":
            self.wfile.write(page.body)

    def _send_body(self, file: BinaryIO, size: int) -> None:
        """Send ``size`` bytes of ``file`` a chunk at a time, so memory per request stays constant.

        ``sendall`` applies the socket timeout to each whole chunk: a client that stalls or
        trickles raises ``TimeoutError`` and is dropped.
        """
        sent = 0
        while sent < size and (chunk := file.read(min(CHUNK, size - sent))):
            self.wfile.write(chunk)
            sent += len(chunk)
        if sent < size:  # the file was truncated while being sent
            self.close_connection = True  # or the client would wait for the missing bytes

    def _locate(self, target: str) -> Path | int:
        """The file a request target names, or the status code when it is not one we serve."""
        raw = target.split("?", 1)[0].split("#", 1)[0]
        try:
            decoded = unquote_to_bytes(raw.encode("latin-1")).decode("utf-8")
        except UnicodeError:
            return 400
        if decoded == "/":
            decoded = "/index.html"
        if not decoded.startswith("/") or decoded.endswith("/") or "\x00" in decoded or "\\" in decoded:
            return 404
        parts = [part for part in decoded.split("/") if part]
        if any(part.startswith(".") for part in parts):
            return 404
        root = cast(FeedServer, self.server).folder
        try:
            real = root.joinpath(*parts).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            return 404
        if not real.is_relative_to(root) or any(part.startswith(".") for part in real.relative_to(root).parts):
            return 404
        return real if real.is_file() and real.suffix in CONTENT_TYPES else 404

    def _not_modified(self, etag: str, mtime: float | None) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:  # takes precedence over If-Modified-Since (RFC 9110 13.2.2)
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or etag in tags
        since = self.headers.get("If-Modified-Since")
        if since is None or mtime is None:
            return False
        try:
            date = parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        if date.tzinfo is None:
            date = date.replace(tzinfo=timezone.utc)
        return int(mtime) <= date.timestamp()

    def _reply(self, code: int, headers: dict[str, str] | None = None) -> None:
        """A reply without a file: ``304`` with its headers, or a one-line plain-text error page."""
        if code == 304:
            return self._send_head(code, headers or {})
        body = f"{code} {self.responses[code][0]}\n".encode()
        plain = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body)), "Connection": "close"}
        self._send_head(code, {**(headers or {}), **plain})
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_head(self, code: int, headers: dict[str, str]) -> None:
        self.send_response(code)
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if not cast(FeedServer, self.server).quiet:
            line = f"{self.address_string()} {self.requestline} {code}"
            sys.stderr.write(_CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", line) + "\n")

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the one line per request comes from :meth:`log_request`."""


def _etag(stat: os.stat_result) -> str:
    """A validator that costs one ``fstat``: the bot replaces files by rename (a new inode) and any
    rewrite changes the mtime. Hashed, so the tag tells a client nothing about the file system."""
    identity = f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"
    return f'"{hashlib.sha256(identity.encode()).hexdigest()[:32]}"'


def make_server(
    folder: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    quiet: bool = False,
    limits: Limits = Limits(),
    pages: Pages | None = None,
    make: Make | None = None,
) -> ThreadingHTTPServer:
    """A server for ``folder``, bound but not yet serving; port 0 picks a free port. ``pages``
    are computed on request at their paths (the search page), before any file is looked for;
    ``make`` may write a requested file that is missing (an item page)."""
    return FeedServer(folder, host, port, quiet, limits, pages or {}, make)


def serve(folder: Path, host: str, port: int, pages: Pages | None = None, make: Make | None = None) -> None:
    """Serve ``folder`` (and ``pages``, and what ``make`` makes) until Ctrl-C."""
    if not folder.is_dir():
        raise BotError(f"no feed folder {folder} yet: run `referatvagt ingest` first to write the feeds")
    try:
        server = make_server(folder, host, port, pages=pages, make=make)
    except OSError as exc:
        raise BotError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    shown = f"[{host}]" if ":" in host else host
    with server:
        print(f"Serving {folder} at http://{shown}:{server.server_address[1]}/ (Ctrl-C to stop)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
