"""`referatvagt serve`: a real server on a free port, real HTTP requests, no mocks."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.errors import BotError
from bot.publish.serve import CHUNK, Limits, serve

from .webtools import feed_server

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = Limits()
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
    with feed_server(feeds) as port:
        yield port


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


# Big files, many clients, slow clients: memory and slots stay bounded.

BIG = 32 * 1024 * 1024  # a folder source's PDF can be this big
CLIENTS = DEFAULTS.requests  # as many at once as the server answers at once


@dataclass
class BigServer:
    port: int
    pid: int
    sha256: str


def proc_field(pid: int, name: str, field: str) -> int:
    """A number from /proc/<pid>/<name>, e.g. ``VmHWM`` (peak RSS, kB) from ``status``."""
    for line in Path(f"/proc/{pid}/{name}").read_text(encoding="ascii").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/{name}")


def write_random(path: Path, size: int) -> str:
    """Fill ``path`` with ``size`` random bytes, a MiB at a time; returns their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as file:
        for _ in range(size // 2**20):
            block = os.urandom(2**20)
            digest.update(block)
            file.write(block)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigServer]:
    """A server in its own process, so its memory and reads can be measured alone."""
    folder = tmp_path_factory.mktemp("big")
    sha256 = write_random(folder / "big.pdf", BIG)
    code = (
        "import sys; from pathlib import Path; from bot.publish.serve import make_server\n"
        "server = make_server(Path(sys.argv[1]), port=0, quiet=True)\n"
        "print(server.server_address[1], flush=True)\n"
        "server.serve_forever()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield BigServer(port, process.pid, sha256)
    finally:
        process.terminate()
        process.wait(timeout=10)


def download(port: int, path: str) -> tuple[int, str]:
    """GET ``path`` and hash the body as it arrives; returns the status and the body's sha256."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        digest = hashlib.sha256()
        while block := response.read(2**20):
            digest.update(block)
        return response.status, digest.hexdigest()
    finally:
        connection.close()


def test_a_big_file_is_streamed_to_many_clients_in_constant_memory(big: BigServer) -> None:
    assert raw(big.port, "HEAD", "/big.pdf").status == 200  # the server has answered once before measuring
    before = proc_field(big.pid, "status", "VmHWM") * 1024
    start = threading.Barrier(CLIENTS)

    def client(_: int) -> tuple[int, str]:
        start.wait()
        return download(big.port, "/big.pdf")

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(client, range(CLIENTS)))
    assert results == [(200, big.sha256)] * CLIENTS
    growth = proc_field(big.pid, "status", "VmHWM") * 1024 - before
    # Reading whole files would take BIG * CLIENTS (512 MiB); streaming takes a chunk per client.
    assert growth < BIG // 2, f"peak RSS grew by {growth // 2**20} MiB serving {CLIENTS} x {BIG // 2**20} MiB"


def test_head_and_304_on_a_big_file_read_none_of_it(big: BigServer) -> None:
    before = proc_field(big.pid, "io", "rchar")
    head = raw(big.port, "HEAD", "/big.pdf")
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(BIG)
    assert head.headers["Content-Type"] == "application/pdf"
    by_etag = raw(big.port, "GET", "/big.pdf", If_None_Match=head.headers["ETag"])
    by_date = raw(big.port, "GET", "/big.pdf", If_Modified_Since=head.headers["Last-Modified"])
    assert (by_etag.status, by_etag.body, by_date.status, by_date.body) == (304, b"", 304, b"")
    assert by_etag.headers["ETag"] == head.headers["ETag"]
    read = proc_field(big.pid, "io", "rchar") - before
    assert read < CHUNK, f"the server read {read} bytes to answer HEAD and 304"


def sparse(path: Path, size: int) -> None:
    """A file of ``size`` zero bytes that takes no disk space."""
    with path.open("wb") as file:
        file.truncate(size)


def stalled_download(port: int, path: str) -> socket.socket:
    """Start a GET, read the status line and stop reading: the server is left holding the request."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, so the server blocks soon
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode("ascii"))
    assert sock.recv(12) == b"HTTP/1.1 200"
    return sock


def open_files(path: Path) -> int:
    """How many file descriptors of this process are open on ``path``."""
    return sum(1 for fd in Path("/proc/self/fd").iterdir() if os.path.realpath(fd) == str(path.resolve()))


def test_requests_beyond_the_cap_wait_briefly_then_get_503(feeds: Path) -> None:
    big_file = feeds / "big.pdf"
    sparse(big_file, BIG)
    limits = Limits(requests=2, slot_wait=0.2, timeout=60)  # the timeout plays no part here
    with feed_server(feeds, limits=limits) as port:
        stalled = [stalled_download(port, "/big.pdf") for _ in range(limits.requests)]
        try:
            with ThreadPoolExecutor(4) as pool:
                refused = list(pool.map(lambda _: get(port, "/a.xml"), range(4)))
            assert [response.status for response in refused] == [503] * 4
            assert all(response.headers["Retry-After"] == "10" for response in refused)
            assert refused[0].body == b"503 Service Unavailable\n"
            assert open_files(big_file) == limits.requests  # no thread beyond the cap holds the file
        finally:
            for sock in stalled:
                sock.close()
        assert eventually_ok(port), "a slot freed by a closed client was not reused"


def eventually_ok(port: int) -> bool:
    """Whether ``/a.xml`` is served within a generous 20 s."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if get(port, "/a.xml").status == 200:
            return True
        time.sleep(0.05)
    return False


def test_a_stalled_reader_is_dropped_and_frees_its_slot(feeds: Path, capfd: pytest.CaptureFixture[str]) -> None:
    sparse(feeds / "big.pdf", BIG)
    with feed_server(feeds, limits=Limits(requests=1, slot_wait=0.1, timeout=0.5)) as port:
        with stalled_download(port, "/big.pdf") as sock:
            assert eventually_ok(port), "a client that stopped reading kept the only slot"
            received = 0
            while chunk := sock.recv(2**20):  # what the server sent before it gave up, then the end
                received += len(chunk)
            assert received < BIG
    assert "Traceback" not in capfd.readouterr().err  # a dropped client is no error of the server


def test_idle_and_half_sent_requests_are_closed_and_hold_no_slot(feeds: Path) -> None:
    with feed_server(feeds, limits=Limits(requests=1, slot_wait=0.1, timeout=0.5)) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as half:
                half.sendall(b"GET /a.xml HTTP/1.1\r\nHost: test\r\n")  # the blank line never comes
                assert get(port, "/a.xml").status == 200  # neither holds the only slot
                assert half.recv(1) == b""  # closed by the server, not by our 10 s timeout
                assert idle.recv(1) == b""


def test_a_file_replaced_while_it_is_sent_arrives_whole_in_its_old_version(feeds: Path) -> None:
    old = write_random(feeds / "doc.pdf", 4 * 2**20)
    with feed_server(feeds) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/doc.pdf")
            response = connection.getresponse()
            first = response.read(CHUNK)
            (feeds / "new.pdf").write_bytes(b"new version")
            os.replace(feeds / "new.pdf", feeds / "doc.pdf")  # as the bot writes: an atomic rename
            body = first + response.read()
        finally:
            connection.close()
        assert hashlib.sha256(body).hexdigest() == old
        assert download(port, "/doc.pdf") == (200, hashlib.sha256(b"new version").hexdigest())
