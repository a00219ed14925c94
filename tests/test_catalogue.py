"""The built-in catalogue of kommuner and the ``referatvagt sources`` commands."""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.catalogue import KOMMUNER_COUNT, SYSTEMS, find, load_catalogue, slug, source_block
from bot.cli import cli
from bot.config import load_config
from bot.errors import ConfigError

from .conftest import FIRSTAGENDA, SHARED
from .portal import LISTING, Server, running, small_portal

CATALOGUE = Path(__file__).resolve().parents[1] / "bot" / "data" / "kommuner.json"
PORTAL_MAP = SHARED / "portals" / "kommuner.json"
REGIONS = {"Hovedstaden", "Sjælland", "Syddanmark", "Midtjylland", "Nordjylland"}


def sources(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["sources", *args])
    return result.exit_code, result.output


def test_the_catalogue_has_the_98_kommuner_once_each() -> None:
    kommuner = load_catalogue()
    assert len(kommuner) == KOMMUNER_COUNT == 98
    assert len({k.name for k in kommuner}) == 98 and len({slug(k.name) for k in kommuner}) == 98
    assert {k.region for k in kommuner} == REGIONS
    assert (
        sum(k.region == "Hovedstaden" for k in kommuner) == 29
        and sum(k.region == "Nordjylland" for k in kommuner) == 11
    )
    assert {"København", "Aarhus", "Ærø", "Læsø", "Høje-Taastrup", "Ringkøbing-Skjern"} <= {k.name for k in kommuner}


def test_only_hosts_confirmed_by_captured_data_are_verified() -> None:
    verified = [k for k in load_catalogue() if k.verified]
    assert [(k.name, k.host, k.system) for k in verified] == [
        ("Hvidovre", "dagsordener-referater.hvidovre.dk", "firstagenda")
    ]
    for kommune in load_catalogue():
        assert kommune.source, f"{kommune.name}: every entry says where its facts come from"
        assert (kommune.system == "unknown") == (kommune.host is None), "a host exactly when the system is known"


def test_the_catalogue_covers_the_country() -> None:
    systems = Counter(k.system for k in load_catalogue())
    assert systems == {
        "firstagenda": 88,
        "meetingsplus": 2,
        "aabendagsorden": 2,
        "kk-jsonapi": 1,
        "aalborg": 1,
        "frederikssund": 1,
        "hedensted": 1,
        "rksk": 1,
        "unknown": 1,
    }
    assert [k.name for k in load_catalogue() if k.url is None] == ["Ishøj"]
    assert find("Aalborg").options == {"committee_ids": [15, 31, 35, 56, 57, 58, 59]}  # type: ignore[union-attr]
    assert find("Syddjurs").options == {"date_format": "DD/MM/YYYY"}  # type: ignore[union-attr]


# The shared portal map names systems by what they are; the catalogue by the source type that reads them.
SHARED_SYSTEMS = {"aalborg-app": "aalborg", "frederikssund-cms": "frederikssund", "hedensted-sbsys": "hedensted"}
SHARED_SYSTEMS |= {"rksk-edoc": "rksk"}


@pytest.mark.skipif(not PORTAL_MAP.is_file(), reason="../shared/portals/kommuner.json is not here")
def test_every_entry_agrees_with_the_shared_portal_map() -> None:
    shared = json.loads(PORTAL_MAP.read_text(encoding="utf-8"))["kommuner"]
    assert len(shared) == 98
    for kommune in load_catalogue():
        fact = shared[kommune.name]
        assert kommune.system == SHARED_SYSTEMS.get(fact["system"], fact["system"]), kommune.name
        assert kommune.host == fact.get("host"), kommune.name
        if "committee_ids" in fact:
            assert kommune.options["committee_ids"] == fact["committee_ids"]
        if "date_format" in fact:
            assert kommune.options["date_format"] == fact["date_format"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["kommuner"].pop(), "expected 98 kommuner"),
        (lambda d: d["kommuner"][1].update(name=d["kommuner"][0]["name"]), "unique names"),
        (lambda d: d["kommuner"][1].update(verified=True, host=None), "verified is true but no host"),
        (lambda d: d["kommuner"][1].update(system="sharepoint"), "is not a system"),
        (lambda d: d["kommuner"][1].update(system="unknown"), "an unknown one has none"),
        (lambda d: d["kommuner"][1].update(host="https://x.dk/"), "is not a host name"),
        (lambda d: d["kommuner"][1].update(city="x"), "Extra inputs are not permitted"),
    ],
)
def test_a_broken_catalogue_is_refused(change: object, message: str) -> None:
    data = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    with pytest.raises(ConfigError, match=message):
        load_catalogue(json.dumps(data))


def test_kommuner_are_found_by_their_usual_spellings() -> None:
    for spelling in ("Hvidovre", "hvidovre kommune", "HVIDOVRE"):
        assert find(spelling) is not None and find(spelling).name == "Hvidovre"  # type: ignore[union-attr]
    assert find("Århus").name == find("Aarhus").name == "Aarhus"  # type: ignore[union-attr]
    assert find("Bornholms Regionskommune").name == "Bornholm"  # type: ignore[union-attr]
    assert find("Nordfyn").name == "Nordfyns"  # type: ignore[union-attr]
    assert find("Atlantis") is None


@pytest.mark.parametrize("kommune", [k.name for k in load_catalogue()])
def test_every_printed_source_block_is_valid_toml_and_loads_or_says_what_is_missing(
    tmp_path: Path, kommune: str
) -> None:
    block = source_block(find(kommune))  # type: ignore[arg-type]
    tomllib.loads(block)
    path = tmp_path / "config.toml"
    path.write_text(block + "\n", encoding="utf-8")
    entry = find(kommune)
    assert entry is not None
    if entry.url:
        source = load_config(path).sources[0]
        assert (source.type, getattr(source, "url", None), source.kommune) == (entry.system, entry.url, entry.name)
        assert "referatvagt sources probe" in block or entry.verified
    else:
        assert "referatvagt sources probe https://" in block and "http-index" in block
        with pytest.raises(ConfigError, match=f"sources known {entry.name}"):
            load_config(path)


def test_sources_known_lists_the_catalogue() -> None:
    code, output = sources("known")
    lines = output.strip().splitlines()
    assert code == 0 and len(lines) == 1 + 98 + 1
    assert lines[0].split() == ["kommune", "system", "host", "checked"]
    assert any(
        line.split() == ["Hvidovre", "firstagenda", "dagsordener-referater.hvidovre.dk", "verified"] for line in lines
    )
    assert lines[-1] == (
        "98 kommuner: 97 can be watched (88 FirstAgenda, 9 on other systems; 1 verified); not known: Ishøj"
    )
    code, output = sources("known", "--json")
    rows = [json.loads(line) for line in output.splitlines()]
    assert code == 0 and len(rows) == 98
    aalborg = next(row for row in rows if row["name"] == "Aalborg")
    assert {key: aalborg[key] for key in ("system", "host", "url", "source_name")} == {
        "system": "aalborg",
        "host": "apps.aalborgkommune.dk",
        "url": "https://apps.aalborgkommune.dk",
        "source_name": "aalborg",
    }


def test_sources_known_prints_a_ready_block() -> None:
    code, output = sources("known", "hvidovre")
    assert code == 0
    assert '[[source]]\nname = "hvidovre"\nkommune = "Hvidovre"\ntype = "firstagenda"' in output
    assert 'url = "https://dagsordener-referater.hvidovre.dk"' in output
    code, output = sources("known", "Atlantis")
    assert code == 2 and "no kommune named 'Atlantis' in the catalogue" in output


def test_sources_probe_recognises_a_firstagenda_portal() -> None:
    with running(Server(session_cookie=True)) as portal:
        small_portal(portal)
        code, output = sources("probe", portal.url + "/")
        assert portal.paths() == ["/", LISTING]
    assert code == 0
    assert output.strip().splitlines() == [
        f"{portal.url} answers like a FirstAgenda portal: 1 committee in 1 election period, 1 meeting, newest 18.05.2026",
        '(type = "firstagenda")',
    ]


@pytest.mark.skipif(not FIRSTAGENDA.is_dir(), reason="../shared/firstagenda is not here")
def test_sources_probe_counts_the_captured_portal() -> None:
    with running(Server()) as portal:
        portal.raw(LISTING, (FIRSTAGENDA / "udvalgsliste.json").read_bytes())
        code, output = sources("probe", portal.url)
    assert code == 0 and "7 committees in 2 election periods" in output and "newest 18.05.2026" in output


def test_sources_probe_says_when_a_url_is_not_a_portal() -> None:
    with running(Server()) as site:
        code, output = sources("probe", site.url)
        site.raw(LISTING, b"[1, 2]")
        code_2, output_2 = sources("probe", site.url)
    lines = output.strip().splitlines()
    assert code == 1 and lines[0] == f"{site.url} does not answer like any supported system:"
    assert lines[1] == (
        f"  firstagenda: {site.url} does not answer like a FirstAgenda portal: {site.url}{LISTING}: HTTP 404 Not Found"
    )
    assert [line.split(":")[0].strip() for line in lines[1:]] == list(SYSTEMS), "every system was tried"
    assert code_2 == 1 and "not a FirstAgenda committee list" in output_2
