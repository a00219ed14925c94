"""Serve the feed folder over HTTP: ``referatvagt serve``.

The feeds are plain files and any web server can publish them; this one lets a reader
subscribe without setting one up. Standard library only (``http.server``): GET and HEAD,
with ETag and Last-Modified so polling feed readers mostly get ``304 Not Modified``.

Private feeds are protected only by their unguessable path, hence these rules:
- Only regular files of the four kinds the bot writes are served (``.xml`` RSS, ``.atom``,
  ``.html``, ``.opml``); anything else and every directory is 404: no listings, so
  ``/private/`` reveals nothing.
- The path is percent-decoded once (invalid UTF-8: 400) and refused if it holds a NUL, a
  backslash or a part starting with ``.`` (``..``, hidden files, temp files of atomic writes);
  the rest is resolved, symlinks included, and must lie inside the folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import socketserver
import sys
from datetime import timezone
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
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


class FeedServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its folder; idle keep-alive connections never block closing."""

    block_on_close = False

    def __init__(self, folder: Path, host: str, port: int, quiet: bool) -> None:
        self.folder = folder.resolve()
        self.quiet = quiet
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), FeedHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall on a slow resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])


class FeedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds an idle keep-alive connection is held open

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
        path = self._locate(self.path)
        if isinstance(path, int):
            return self._reply(path)
        try:
            with path.open("rb") as file:
                body, mtime = file.read(), os.fstat(file.fileno()).st_mtime
        except OSError:
            return self._reply(404)
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        headers = {"ETag": etag, "Last-Modified": self.date_time_string(mtime), "Cache-Control": "max-age=300"}
        if self._not_modified(etag, mtime):
            return self._reply(304, headers)
        self._reply(200, {"Content-Type": CONTENT_TYPES[path.suffix], **headers}, body)

    do_HEAD = do_GET

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

    def _not_modified(self, etag: str, mtime: float) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:  # takes precedence over If-Modified-Since (RFC 9110 13.2.2)
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or etag in tags
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            date = parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        if date.tzinfo is None:
            date = date.replace(tzinfo=timezone.utc)
        return int(mtime) <= date.timestamp()

    def _reply(self, code: int, headers: dict[str, str] | None = None, body: bytes | None = None) -> None:
        if body is None and code != 304:
            body = f"{code} {self.responses[code][0]}\n".encode()
            headers = {**(headers or {}), "Content-Type": "text/plain; charset=utf-8", "Connection": "close"}
        self.send_response(code)
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body is not None and self.command != "HEAD":
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if not cast(FeedServer, self.server).quiet:
            line = f"{self.address_string()} {self.requestline} {code}"
            sys.stderr.write(_CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", line) + "\n")

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the one line per request comes from :meth:`log_request`."""


def make_server(folder: Path, host: str = "127.0.0.1", port: int = 8080, quiet: bool = False) -> ThreadingHTTPServer:
    """A server for ``folder``, bound but not yet serving; port 0 picks a free port."""
    return FeedServer(folder, host, port, quiet)


def serve(folder: Path, host: str, port: int) -> None:
    """Serve ``folder`` until Ctrl-C."""
    if not folder.is_dir():
        raise BotError(f"no feed folder {folder} yet: run `referatvagt ingest` first to write the feeds")
    try:
        server = make_server(folder, host, port)
    except OSError as exc:
        raise BotError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    shown = f"[{host}]" if ":" in host else host
    with server:
        print(f"Serving {folder} at http://{shown}:{server.server_address[1]}/ (Ctrl-C to stop)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
