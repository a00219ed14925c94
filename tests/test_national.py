"""Watching many kommuner in one ``[[source]]`` block: ``kommuner = ["*"]``, a list of names, or
one ``kommune`` alone, expanded through the built-in catalogue."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.catalogue import load_catalogue, slug
from bot.cli import cli
from bot.config import load_config
from bot.errors import ConfigError
from bot.run.scheduler import spread

from .helpers import run_cli


def config_file(tmp_path: Path, *blocks: str) -> Path:
    text = '[bot]\nstate_dir = "state"\n' + "".join(f"\n[[source]]\n{block.strip()}\n" for block in blocks)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_kommune_the_catalogue_can_serve_becomes_a_source(tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path, 'kommuner = ["*"]'))
    assert len(config.sources) == 97
    served = [k for k in load_catalogue() if k.url]
    assert [(s.name, s.kommune, s.type, getattr(s, "url", None)) for s in config.sources] == [
        (slug(k.name), k.name, k.system, k.url) for k in served
    ]
    aalborg = config.source("aalborg")
    assert getattr(aalborg, "committee_ids", None) == (15, 31, 35, 56, 57, 58, 59)
    assert getattr(config.source("glostrup"), "skip_committees", None) == ("Testudvalget",)
    assert {s.every for s in config.sources} == {"1h"}, "a national config is polled hourly by default"

    result = run_cli(config_file(tmp_path, 'kommuner = ["*"]'), "check")
    assert result.exit_code == 0 and "OK, 97 sources" in result.stdout


def test_the_other_keys_of_the_block_apply_to_each_kommune(tmp_path: Path) -> None:
    block = (
        'kommuner = ["Billund", "aarhus", "København"]\ncommittees = ["Økonomi"]\nsince = "2026-01-01"\nevery = "2h"'
    )
    config = load_config(config_file(tmp_path, block))
    assert [(s.name, s.kommune, s.type) for s in config.sources] == [
        ("billund", "Billund", "meetingsplus"),
        ("aarhus", "Aarhus", "firstagenda"),
        ("koebenhavn", "København", "kk-jsonapi"),
    ]
    for source in config.sources:
        assert (source.committees, source.since, source.every) == (
            ("Økonomi",),
            date(2026, 1, 1),
            "2h",
        )


def test_a_kommune_alone_takes_its_system_and_host_from_the_catalogue(tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path, 'kommune = "Syddjurs"\ncommittees = ["Teknik"]'))
    (source,) = config.sources
    assert (source.name, source.type, source.url) == (
        "syddjurs",
        "aabendagsorden",
        "https://aabendagsorden.syddjurs.dk",
    )
    assert source.date_format == "DD/MM/YYYY" and source.every is None
    config = load_config(config_file(tmp_path, 'name = "mit-aalborg"\nkommune = "Aalborg"\ncommittee_ids = [99]'))
    assert (config.sources[0].name, config.sources[0].committee_ids) == ("mit-aalborg", (99,))


def test_a_source_of_its_own_replaces_the_one_the_block_would_make(tmp_path: Path) -> None:
    own = 'name = "aalborg"\nkommune = "Aalborg"\ntype = "aalborg"\ncommittee_ids = [101, 102]'
    config = load_config(config_file(tmp_path, 'kommuner = ["*"]', own))
    assert len(config.sources) == 97
    assert config.source("aalborg").committee_ids == (101, 102)
    config = load_config(config_file(tmp_path, 'kommune = "Billund"\ncommittees = ["Byråd"]', 'kommuner = ["*"]'))
    assert len(config.sources) == 97 and config.source("billund").committees == ("Byråd",)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ('kommuner = ["Aalborgg"]', r"config.toml:5: source\[1\]\.kommuner: 'Aalborgg' is not a kommune .*'Aalborg'\?"),
        (
            'kommuner = ["Atlantis"]',
            r"'Atlantis' is not a kommune in the catalogue \(see `referatvagt sources known`\)",
        ),
        ('kommuner = ["Ishøj"]', r"does not know where Ishøj publishes; add a \[\[source\]\] with its own type"),
        ('kommune = "Kobenhavn"', r"source\[1\]\.kommune: 'Kobenhavn' is not a kommune .*'København'\?"),
        ('kommuner = ["*", "Aarhus"]', r'"\*" means every kommune: give it alone'),
        ("kommuner = []", r"give a list of kommune names"),
        ('kommuner = "*"', r"give a list of kommune names"),
        ('kommuner = ["*"]\nname = "alle"', r"config.toml:6: source\[1\]\.name: 'name' cannot be given for many"),
        ('kommuner = ["*"]\ncommittee_ids = [1]', r"source\[1\]\.committee_ids: .* in a \[\[source\]\] of its own"),
        ('kommuner = ["*"]\nevery = "often"', r"config.toml:6: source\[1\]\.every: 'often' is not a duration"),
    ],
)
def test_mistakes_in_a_kommuner_block_name_the_line_and_key(tmp_path: Path, block: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(config_file(tmp_path, block))
    assert len(str(raised.value).splitlines()) == 1, "a block's mistake is told once, not once per kommune"


def test_sources_list_prints_the_expanded_sources(tmp_path: Path) -> None:
    path = config_file(tmp_path, 'kommuner = ["Hvidovre", "Aalborg"]')
    result = run_cli(path, "sources", "list", "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0 and rows == [
        {
            "name": "hvidovre",
            "kommune": "Hvidovre",
            "type": "firstagenda",
            "url": "https://dagsordener-referater.hvidovre.dk",
        },
        {"name": "aalborg", "kommune": "Aalborg", "type": "aalborg", "url": "https://apps.aalborgkommune.dk"},
    ]
    text = run_cli(path, "sources", "list").stdout.splitlines()
    assert text[1].split() == ["aalborg", "Aalborg", "aalborg", "https://apps.aalborgkommune.dk"]


def test_sources_known_says_how_to_add_the_one_kommune_it_does_not_know() -> None:
    result = CliRunner().invoke(cli, ["sources", "known", "Ishøj"])
    assert result.exit_code == 0
    assert "the catalogue does not know where it publishes" in result.output
    assert "referatvagt sources probe https://dagsordener.ishoej.dk" in result.output


def test_new_sites_are_first_polled_spread_over_one_interval() -> None:
    web = [f"k{n}" for n in range(4)]
    hour = timedelta(hours=1)
    assert [spread(hour, name, web) for name in web] == [timedelta(minutes=m) for m in (0, 15, 30, 45)]
    assert spread(hour, "samples", web) == timedelta(0), "a folder is read at once"
