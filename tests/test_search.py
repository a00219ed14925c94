"""The search page: a real store (ingested by the CLI), a real server on a free port, real HTTP."""

from __future__ import annotations

import hashlib
import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlencode

import feedparser
import pytest

from bot.config import Config, load_config
from bot.errors import StoreError
from bot.match.matcher import Matcher
from bot.match.matches import item_text
from bot.match.watchlists import load_watchlist
from bot.publish.search import SearchError, SearchLimits, SearchQuery, parse_query, run_search, split_terms
from bot.publish.search_web import SearchApp
from bot.run.pipeline import open_store
from bot.store import Store

from .helpers import Doc, decided, run_cli, standard_agenda, write_config
from .webtools import feed_server


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def technical() -> Doc:
    return (
        Doc(committee="Teknik- og Miljøudvalget", day="05-10-2026")
        .item(
            1,
            "Busplan for landdistrikterne",
            "26/500",
            Sagsfremstilling="Busplanen: busser til Vestby & Østby (5 < 7).",
        )
        .item(2, "Kontanthjælp og IGU-forløb", "26/600", Indstilling="At IGU-forløb udvides til flere borgere.")
    )


@pytest.fixture
def site(tmp_path: Path) -> Config:
    """Two meetings of Testrup: Økonomiudvalget 02.11.2026 (minutes) and Teknik og Miljø 05.10.2026 (agenda)."""
    config = write_config(tmp_path)
    (tmp_path / "minutes" / "oekonomi.md").write_text(decided(standard_agenda()).text(), encoding="utf-8")
    (tmp_path / "minutes" / "teknik.md").write_text(technical().text(), encoding="utf-8")
    assert run_cli(config, "ingest").exit_code == 0
    return load_config(config)


@contextmanager
def serving(
    config: Config, limits: SearchLimits | None = None, opener: Callable[[], Store] | None = None
) -> Iterator[int]:
    app = SearchApp(config, opener or (lambda: open_store(config, read_only=True)), limits)
    try:
        with feed_server(config.bot.state_dir / "feeds", pages=app.pages()) as port:
            yield port
    finally:
        app.close()


def get(port: int, target: str, method: str = "GET", **headers: str) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, target, headers={k.replace("_", "-"): v for k, v in headers.items()})
        response = connection.getresponse()
        return Response(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def search(port: int, **params: str) -> Response:
    return get(port, f"/search?{urlencode(params)}")


# --- the query ------------------------------------------------------------------------------------


def test_terms_are_words_and_quoted_phrases() -> None:
    assert split_terms(' kontanthjælp  "nyt kontanthjælpssystem" *ledighed =bil IGU KL-aftale ') == (
        "kontanthjælp",
        '"nyt kontanthjælpssystem"',
        "*ledighed",
        "=bil",
        "IGU",
        "KL-aftale",
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "a"}, "too short to match as a prefix"),
        ({"q": '"nyt system'}, "a phrase must be quoted as a whole"),
        ({"q": "*"}, "no letters or digits"),
        ({"q": "skole", "uden": "b"}, "too short"),
        ({"q": "x" * 301}, "q: højst 300 tegn"),
        ({"q": " ".join(f"ord{n}" for n in range(21))}, "højst 20 søgeord"),
        ({"q": "skole", "fra": "2026-13-01"}, "fra: '2026-13-01' er ikke en dato"),
    ],
)
def test_a_bad_query_says_why(params: dict[str, str], message: str) -> None:
    with pytest.raises(SearchError, match=message):
        parse_query(params, SearchLimits())


def test_the_watchlist_file_of_a_search_loads_with_the_real_loader(tmp_path: Path) -> None:
    query = parse_query(
        {
            "q": 'Kontanthjælp "nyt system" *ledighed IGU',
            "alle": "=bil",
            "uden": "skole",
            "kommune": 'Tæst "by"\\ \x7f',
            "udvalg": "Økonomi",
            "afsnit": "Beslutning",
            "fra": "2026-01-01",
        },
        SearchLimits(),
    )
    assert query.slug() == "kontanthjaelp"
    path = tmp_path / "watchlists" / f"{query.slug()}.toml"
    path.parent.mkdir()
    path.write_text(query.toml(), encoding="utf-8")
    loaded = load_watchlist(path)
    expected = query.watchlist()
    for key in ("title", "terms", "all", "exclude", "kommuner", "committees", "sections"):
        assert getattr(loaded, key) == getattr(expected, key), key
    assert loaded.deliver.feed
    assert "# Datoerne (fra/til) har ingen nøgle i en watchlist" in query.toml()


@pytest.mark.parametrize(("first", "slug"), [("_x", "x"), ("ÅÆØ", "aaaeoe"), ("source-x", "soegning"), ("=é", "e")])
def test_the_suggested_file_name_is_a_valid_slug(first: str, slug: str) -> None:
    assert SearchQuery(terms=(first,)).slug() == slug


# --- the page -------------------------------------------------------------------------------------


def test_a_search_finds_what_a_watchlist_of_the_same_terms_finds(site: Config) -> None:
    with serving(site) as port:
        response = search(port, q="busplan IGU")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.text
    assert "3 punkter" in page
    # The newest meeting first; the term is highlighted; the item's place is named
    assert page.index("Punkt 3: Busplan 2027") < page.index("Punkt 1: Busplan for landdistrikterne")
    assert "<mark>busplan</mark>" in page and "<mark>IGU</mark>-forløb" in page
    assert "Testrup · Økonomiudvalget · møde 02.11.2026 · referat · sag 26/300" in page
    assert "Vestby &amp; Østby (5 &lt; 7)" in page, "the minutes' text is escaped"
    # The same matches the watchlist engine gives (`referatvagt try`)
    matcher = Matcher([SearchQuery(terms=("busplan", "IGU")).watchlist()])
    with open_store(site, read_only=True) as store:
        expected = {v.title for _, v, m, s, _ in store.latest_items() if matcher.match(item_text(v, m, s))}
    assert expected == {"Busplan 2027", "Busplan for landdistrikterne", "Kontanthjælp og IGU-forløb"}
    # The search, followed: its feed and a watchlist file
    assert 'href="search.xml?q=busplan+IGU"' in page
    assert f"{site.feeds.base_url}search.xml?q=busplan+IGU" in page
    assert "terms = [&#34;busplan&#34;, &#34;IGU&#34;]" in page
    assert 'href="index.html"' in page


@pytest.mark.parametrize(
    ("params", "titles"),
    [
        ({"q": "busplan", "kommune": "testrup"}, ["Busplan 2027", "Busplan for landdistrikterne"]),
        ({"q": "busplan", "kommune": "Andeby"}, []),
        ({"q": "busplan", "udvalg": "miljø"}, ["Busplan for landdistrikterne"]),
        ({"q": "busplan", "afsnit": "Titel", "fra": "2026-10-06"}, ["Busplan 2027"]),
        ({"q": "busplan", "til": "2026-10-05"}, ["Busplan for landdistrikterne"]),
        (
            {"q": "godkendt", "afsnit": "Beslutning"},
            ["Budgetopfølgning 3. kvartal", "Busplan 2027", "Godkendelse af dagsorden"],
        ),
        ({"q": "busplan", "uden": "linjer"}, ["Busplan for landdistrikterne"]),
        ({"q": "busplan", "alle": "vestby"}, ["Busplan for landdistrikterne"]),
    ],
)
def test_filters(site: Config, params: dict[str, str], titles: list[str]) -> None:
    query = parse_query(params, SearchLimits())
    with open_store(site, read_only=True) as store:
        found = run_search(store, query, SearchLimits()).found
    assert sorted(f.row.version.title for f in found) == titles


def test_a_bad_query_is_400_with_the_reason_on_the_page(site: Config) -> None:
    with serving(site) as port:
        response = search(port, q="<script>a")
    assert response.status == 400
    assert "Søgningen kan ikke bruges:" in response.text
    assert "only letters, digits, spaces and hyphens can be matched" in response.text
    assert "<script>" not in response.text and "&lt;script&gt;a" in response.text
    assert "Traceback" not in response.text


def test_the_empty_form_lists_the_kommuner_and_committees(site: Config) -> None:
    with serving(site) as port:
        response = get(port, "/search")
    assert response.status == 200
    assert "<option>Testrup</option>" in response.text
    assert '<option value="Teknik- og Miljøudvalget">' in response.text
    assert 'id="resultater"' not in response.text


def test_the_caps_on_items_read_and_results_shown_are_said(site: Config) -> None:
    with serving(site, SearchLimits(max_scanned=2)) as port:
        capped = search(port, q="busplan").text
    assert 'id="loft"' in capped and "Kun de nyeste 2 punkter blev gennemsøgt" in capped
    assert "2 punkter gennemsøgt" in capped
    with serving(site, SearchLimits(max_results=1)) as port:
        more = search(port, q="busplan").text
    assert "1+ punkt" in more and "Viser de første 1 punkter; der er flere" in more
    assert more.count("<li>") == 1


def test_a_search_beyond_the_concurrency_limit_waits_then_gets_503(site: Config) -> None:
    opened, release = threading.Event(), threading.Event()

    def slow_store() -> Store:  # the first search holds its turn until released
        opened.set()
        release.wait(30)
        return open_store(site, read_only=True)

    with serving(site, SearchLimits(searches=1, wait=0.2), slow_store) as port:
        first: list[Response] = []
        thread = threading.Thread(target=lambda: first.append(search(port, q="busplan")))
        thread.start()
        assert opened.wait(30)
        busy = search(port, q="busplan")
        feed = get(port, "/search.xml?q=busplan")
        release.set()
        thread.join()
    assert busy.status == feed.status == 503
    assert busy.headers["Retry-After"] == "10"
    assert first[0].status == 200 and "Busplan 2027" in first[0].text


def test_searching_never_writes_the_store(site: Config) -> None:
    database = site.bot.state_dir / "referatvagt.db"
    before = sorted(p.name for p in site.bot.state_dir.iterdir()), hashlib.sha256(database.read_bytes()).digest()
    with serving(site) as port:
        assert search(port, q="busplan").status == 200
        assert get(port, "/search.xml?q=busplan").status == 200
    after = sorted(p.name for p in site.bot.state_dir.iterdir()), hashlib.sha256(database.read_bytes()).digest()
    assert before == after


def test_without_a_store_the_page_says_so_with_503(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    (config.bot.state_dir / "feeds").mkdir(parents=True)

    def missing() -> Store:
        raise StoreError("no store yet at state/referatvagt.db: run `referatvagt ingest` first")

    with serving(config, opener=missing) as port:
        response = search(port, q="busplan")
    assert response.status == 503 and "Søgningen er ikke tilgængelig lige nu" in response.text


# --- the feed -------------------------------------------------------------------------------------


def test_the_feed_of_a_search_is_valid_rss_with_its_own_address(site: Config) -> None:
    target = f"/search.xml?q={quote('busplan IGU')}&kommune=Testrup"
    with serving(site) as port:
        response = get(port, target)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    parsed = feedparser.parse(response.body)
    assert parsed.bozo == 0
    assert [link.href for link in parsed.feed.links if link.rel == "self"] == [
        f"{site.feeds.base_url}search.xml?q=busplan+IGU&kommune=Testrup"
    ]
    assert parsed.feed.link == f"{site.feeds.base_url}search?q=busplan+IGU&kommune=Testrup"
    entries = {entry.title: entry for entry in parsed.entries}
    assert set(entries) == {
        "Testrup · Økonomiudvalget 02.11.2026 · Punkt 3: Busplan 2027",
        "Testrup · Teknik- og Miljøudvalget 05.10.2026 · Punkt 1: Busplan for landdistrikterne",
        "Testrup · Teknik- og Miljøudvalget 05.10.2026 · Punkt 2: Kontanthjælp og IGU-forløb",
    }
    assert len({entry.id for entry in parsed.entries}) == 3
    assert all(entry.published_parsed for entry in parsed.entries)
    igu = entries["Testrup · Teknik- og Miljøudvalget 05.10.2026 · Punkt 2: Kontanthjælp og IGU-forløb"]
    assert "<b>IGU</b>" in igu.content[0].value
    assert igu.link.startswith(site.feeds.base_url)


def test_the_feed_honours_etag_and_if_modified_since_like_the_files(site: Config) -> None:
    with serving(site) as port:
        first = get(port, "/search.xml?q=busplan")
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert get(port, "/search.xml?q=busplan").headers["ETag"] == etag, "unchanged results: the same bytes"
        for value in (etag, f'"other", {etag}', f"W/{etag}", "*"):
            response = get(port, "/search.xml?q=busplan", If_None_Match=value)
            assert response.status == 304 and response.body == b"", value
        assert get(port, "/search.xml?q=busplan", If_None_Match='"other"').status == 200
        assert get(port, "/search.xml?q=busplan", If_Modified_Since=modified).status == 304
        stale = get(port, "/search.xml?q=busplan", If_None_Match='"x"', If_Modified_Since=modified)
        assert stale.status == 200, "If-None-Match takes precedence"
        assert get(port, "/search.xml?q=IGU").headers["ETag"] != etag
        head = get(port, "/search.xml?q=busplan", method="HEAD")
    assert head.status == 200 and head.body == b"" and head.headers["Content-Length"] == str(len(first.body))
    assert head.headers["Cache-Control"] == "max-age=300"


def test_a_bad_feed_query_is_400(site: Config) -> None:
    with serving(site) as port:
        assert get(port, "/search.xml?q=a").status == 400
        assert get(port, "/search.xml").status == 400


def test_static_files_are_still_served_beside_the_search(site: Config) -> None:
    with serving(site) as port:
        assert get(port, "/index.html").status == 200
        assert get(port, "/search/").status == 404
        assert get(port, "/search.html").status == 404


def test_the_store_reads_behind_the_search_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    config_path = write_config(tmp_path)
    with config_path.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[bot]\ndatabase_url = "{postgres_url}"\n')
    text = config_path.read_text(encoding="utf-8").replace('[bot]\nstate_dir = "state"\n', "")
    config_path.write_text(text.replace("\n[bot]\n", '\n[bot]\nstate_dir = "state"\n'), encoding="utf-8")
    (tmp_path / "minutes" / "oekonomi.md").write_text(decided(standard_agenda()).text(), encoding="utf-8")
    (tmp_path / "minutes" / "teknik.md").write_text(technical().text(), encoding="utf-8")
    assert run_cli(config_path, "ingest").exit_code == 0
    config = load_config(config_path)
    query = parse_query({"q": "busplan", "udvalg": "MILJØ", "til": "2026-12-31"}, SearchLimits())
    with open_store(config, read_only=True) as store:
        assert store.kommuner() == ["Testrup"]
        assert "Teknik- og Miljøudvalget" in store.committees()
        found = run_search(store, query, SearchLimits()).found
    assert [(f.row.version.title, f.row.meeting.meeting_date) for f in found] == [
        ("Busplan for landdistrikterne", date(2026, 10, 5))
    ]
