"""`referatvagt serve`: a real server on a free port, real HTTP requests, no mocks."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.errors import BotError
from bot.serve import make_server, serve

ROOT = Path(__file__).resolve().parents[1]
FILES = {
    "a.xml": ("application/rss+xml; charset=utf-8", "<rss>a</rss>"),
    "a.atom": ("application/atom+xml; charset=utf-8", "<feed>a</feed>"),
    "index.html": ("text/html; charset=utf-8", "<h1>Feeds</h1>"),
    "feeds.opml": ("text/x-opml; charset=utf-8", "<opml>æøå</opml>"),
    "private/tok123/p.xml": ("application/rss+xml; charset=utf-8", "<rss>private</rss>"),
}


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def make_feeds(base: Path) -> Path:
    folder = base / "feeds"
    for name, (_, text) in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    (folder / ".tmp-x").write_text("<rss>half written</rss>", encoding="utf-8")
    (folder / "notes.txt").write_text("not a feed", encoding="utf-8")
    (base / "secret.txt").write_text("secret", encoding="utf-8")
    (folder / "link-to-secret").symlink_to(base / "secret.txt")
    (folder / "link.xml").symlink_to(base / "secret.txt")
    (folder / "alias.xml").symlink_to(folder / "a.xml")
    return folder


@pytest.fixture
def feeds(tmp_path: Path) -> Path:
    return make_feeds(tmp_path)


@pytest.fixture
def port(feeds: Path) -> Iterator[int]:
    server = make_server(feeds, port=0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join()


def raw(port: int, method: str, path: str, **headers: str) -> Response:
    """Send one HTTP/1.0 request byte for byte and read everything until the server closes."""
    lines = [f"{method} {path} HTTP/1.0", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items()), "", ""]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall("\r\n".join(lines).encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *fields = head.decode("latin-1").split("\r\n")
    return Response(int(status.split()[1]), dict(f.split(": ", 1) for f in fields), body)


def get(port: int, path: str, **headers: str) -> Response:
    return raw(port, "GET", path, **headers)


@pytest.mark.parametrize("name", FILES)
def test_each_kind_is_served_with_its_content_type(port: int, name: str) -> None:
    response = get(port, f"/{name}")
    content_type, text = FILES[name]
    assert response.status == 200
    assert response.headers["Content-Type"] == content_type
    assert response.body == text.encode("utf-8")
    assert response.headers["Content-Length"] == str(len(response.body))
    assert response.headers["Cache-Control"] == "max-age=300"
    assert response.headers["ETag"].startswith('"') and response.headers["ETag"].endswith('"')
    assert response.headers["Last-Modified"].endswith(" GMT")


def test_the_root_is_the_index_page(port: int) -> None:
    root, index = get(port, "/"), get(port, "/index.html")
    assert root.status == 200 and root.body == index.body == b"<h1>Feeds</h1>"
    assert root.headers["Content-Type"] == "text/html; charset=utf-8"


def test_a_query_string_is_ignored_and_a_symlink_inside_the_folder_is_served(port: int) -> None:
    assert get(port, "/a.xml?utm=1").body == b"<rss>a</rss>"
    assert get(port, "/alias.xml").body == b"<rss>a</rss>"


def test_head_sends_the_headers_and_no_body(port: int) -> None:
    head, full = raw(port, "HEAD", "/a.xml"), get(port, "/a.xml")
    assert head.status == 200 and head.body == b""
    for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Cache-Control"):
        assert head.headers[name] == full.headers[name]


def test_if_none_match_gives_304_without_a_body(port: int) -> None:
    etag = get(port, "/a.xml").headers["ETag"]
    for value in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        response = get(port, "/a.xml", If_None_Match=value)
        assert response.status == 304 and response.body == b"", value
        assert response.headers["ETag"] == etag
    assert get(port, "/a.xml", If_None_Match='"other"').status == 200


def test_if_modified_since_gives_304_unless_the_file_is_newer(port: int) -> None:
    last_modified = get(port, "/a.xml").headers["Last-Modified"]
    response = get(port, "/a.xml", If_Modified_Since=last_modified)
    assert response.status == 304 and response.body == b""
    assert get(port, "/a.xml", If_Modified_Since="Sat, 01 Jan 2000 00:00:00 GMT").status == 200
    assert get(port, "/a.xml", If_Modified_Since="not a date").status == 200


def test_if_none_match_takes_precedence_over_if_modified_since(port: int) -> None:
    future = "Fri, 01 Jan 2100 00:00:00 GMT"
    assert get(port, "/a.xml", If_None_Match='"stale"', If_Modified_Since=future).status == 200


def test_a_rewritten_file_gets_a_new_etag(port: int, feeds: Path) -> None:
    old = get(port, "/a.xml").headers["ETag"]
    (feeds / "a.xml").write_text("<rss>b</rss>", encoding="utf-8")  # same size, new content
    response = get(port, "/a.xml", If_None_Match=old)
    assert response.status == 200 and response.body == b"<rss>b</rss>"
    assert response.headers["ETag"] != old
    assert get(port, "/a.xml", If_None_Match=response.headers["ETag"]).status == 304


def test_keep_alive_serves_several_requests_on_one_connection(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for path, body in (("/a.xml", b"<rss>a</rss>"), ("/a.atom", b"<feed>a</feed>"), ("/missing.xml", None)):
            connection.request("GET", path)
            response = connection.getresponse()
            data = response.read()
            assert (response.status, data if body else None) == (200 if body else 404, body)
    finally:
        connection.close()


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "//etc/passwd",
        "/%2fetc/passwd",
        "/link-to-secret",
        "/link.xml",
        "/private",
        "/private/",
        "/private/tok123",
        "/private/tok123/",
        "/a.xml/",
        "/.tmp-x",
        "/%2etmp-x",
        "/x%00.xml",
        "/notes.txt",
        "/missing.xml",
        "http://example.org/a.xml",
        "*",
    ],
)
def test_nothing_but_the_feed_files_is_served(port: int, path: str) -> None:
    response = get(port, path)
    assert response.status == 404, path
    assert b"secret" not in response.body and b"half written" not in response.body


def test_a_path_that_is_not_utf8_is_a_bad_request(port: int) -> None:
    assert get(port, "/%ff.xml").status == 400


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW"])
def test_other_methods_are_not_allowed(port: int, method: str) -> None:
    response = raw(port, method, "/a.xml")
    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_serve_without_a_feed_folder_tells_the_user_to_ingest(tmp_path: Path) -> None:
    with pytest.raises(BotError, match="referatvagt ingest"):
        serve(tmp_path / "feeds", "127.0.0.1", 0)
    config = tmp_path / "config.toml"
    config.write_text('[bot]\nstate_dir = "state"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "serve", "--port", "0"])
    assert result.exit_code == 2 and "referatvagt ingest" in result.output


def test_serve_on_a_busy_port_is_one_clear_error(feeds: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(BotError, match="cannot listen on 127.0.0.1"):
            serve(feeds, "127.0.0.1", busy.getsockname()[1])


def test_the_cli_serves_the_feed_folder_of_the_state_dir(tmp_path: Path) -> None:
    make_feeds(tmp_path / "state")
    config = tmp_path / "config.toml"
    config.write_text('[bot]\nstate_dir = "state"\n', encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bot", "--config", str(config), "serve", "--port", str(free)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                response = get(free, "/index.html")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer within 10 s"
                time.sleep(0.05)
        assert response.status == 200 and response.body == b"<h1>Feeds</h1>"
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=10)
    assert f"Serving {tmp_path / 'state' / 'feeds'} at http://127.0.0.1:{free}/ (Ctrl-C to stop)" in stdout
    assert "127.0.0.1 GET /index.html HTTP/1.0 200\n" in stderr  # one compact line per request
