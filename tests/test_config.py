"""Config files: validated, frozen, and every mistake named by file, line and key."""

from __future__ import annotations

import re
import tomllib
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from bot.config import (
    SAMPLES_DIR,
    BotSettings,
    Config,
    EmailSettings,
    FeedSettings,
    NotifySettings,
    default_config,
    find_config_file,
    load_config,
)
from bot.errors import ConfigError
from bot.source_config import FolderSource, SourceConfig

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_without_a_file_the_bundled_samples_are_ingested_into_state() -> None:
    config = default_config()
    assert config.bot.state_dir == Path("state")
    assert config.bot.database == "sqlite:///state/referatvagt.db"
    assert [s.name for s in config.sources] == ["lindholm", "egeskov"]
    assert all(isinstance(s, FolderSource) and s.path.parent == SAMPLES_DIR for s in config.sources)


def test_config_toml_in_the_current_folder_is_used_when_present(tmp_path: Path) -> None:
    assert find_config_file(None, cwd=tmp_path) is None
    write(tmp_path, "")
    assert find_config_file(None, cwd=tmp_path) == tmp_path / "config.toml"
    assert find_config_file(Path("other.toml"), cwd=tmp_path) == Path("other.toml")


def test_a_valid_file_loads_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[bot]
state_dir = "data"
timezone = "Europe/Copenhagen"

[[source]]
name = "gladsaxe"
kommune = "Gladsaxe"
type = "folder"
path = "minutes/gladsaxe"
""",
    )
    config = load_config(path)
    assert config.bot.state_dir == tmp_path / "data"
    assert config.sources[0].path == tmp_path / "minutes" / "gladsaxe"
    assert config.bot.database == f"sqlite:///{tmp_path / 'data' / 'referatvagt.db'}"


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        default_config().bot.timezone = "UTC"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[bot]\nstate_dir = "s"\ntimezon = "UTC"\n', r"config\.toml:3: bot\.timezon: unknown key"),
        ('[bot]\ntimezone = "Mars/Olympus"\n', r"config\.toml:2: bot\.timezone: unknown time zone 'Mars/Olympus'"),
        ("[bot]\nstate_dir = 7\n", r"config\.toml:2: bot\.state_dir: "),
        (
            '[[source]]\nname = "a"\nkommune = "A"\ntype = "folder"\npath = "x"\n\n'
            '[[source]]\nname = "b"\nkommune = "B"\ntype = "folder"\npaht = "x"\n',
            r"config\.toml:11: source\[2\]\.paht: unknown key",
        ),
        (
            '[[source]]\nname = "a"\nkommune = "A"\ntype = "folder"\n',
            r"config\.toml:1: source\[1\]\.path: required key is missing",
        ),
        (
            '[[source]]\nname = "a"\nkommune = "A"\ntype = "ftp"\n',
            r"config\.toml:1: source\[1\]: unknown source type 'ftp'",
        ),
        (
            '[[source]]\nname = "Gladsaxe Kommune"\nkommune = "A"\ntype = "folder"\npath = "x"\n',
            r":2: source\[1\]\.name: .*not a valid name",
        ),
        ("[bots]\n", r"config\.toml:1: bots: unknown key"),
        ("[bot\n", r"config\.toml:1: not valid TOML: Expected ']' at the end of a table declaration \(column 5\)"),
        ('[bot]\nalert_after_failures = "3"\n', r":2: bot\.alert_after_failures: must be a whole number"),
        ("[feeds]\nmax_entries = 1.5\n", r":2: feeds\.max_entries: must be a whole number"),
        (
            '[email]\nfrom = "a@example.org"\ntimeout = "30"\n',
            r"config\.toml:3: email\.timeout: must be a number, without quotes",
        ),
        (
            '[[source]]\nkommune = "Billund"\nattachments = "yes"\n',
            r"config\.toml:3: source\[1\]\.attachments: must be true or false",
        ),
        (
            '[[source]]\nkommune = "Billund"\nmin_interval = "2"\n',
            r"config\.toml:3: source\[1\]\.min_interval: must be a number",
        ),
        ('[[source]]\nkommune = "Aalborg"\ncommittee_ids = "15"\n', r":3: source\[1\]\.committee_ids: must be a list"),
        ('[[source]]\nkommune = "Billund"\nsince = 20260101\n', r":3: source\[1\]\.since: must be a day"),
    ],
)
def test_mistakes_name_the_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, text))


def test_duplicate_source_names_are_rejected(tmp_path: Path) -> None:
    source = '[[source]]\nname = "a"\nkommune = "A"\ntype = "folder"\npath = "x"\n'
    with pytest.raises(ConfigError, match="two sources are named 'a'"):
        load_config(write(tmp_path, source + source))


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.toml")


# --- the example config documents every key --------------------------------------------------


def _keys(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items() if not info.exclude}


def test_config_example_loads() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert config.sources, "the example shows at least one source"


def test_config_example_names_every_key() -> None:
    data = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    assert _keys(BotSettings) <= set(data["bot"]), "every [bot] key appears in config.example.toml"
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    shown_types = set(re.findall(r'^\s*#?\s*type\s*=\s*"([^"]+)"', text, re.MULTILINE))
    assert {source["type"] for source in data["source"]} <= shown_types
    for model in typing.get_args(typing.get_args(SourceConfig)[0]):  # every source type
        assert model.model_fields["type"].annotation.__args__[0] in shown_types, f"{model.__name__} has no example"
        for key in _keys(model):
            assert re.search(rf"^\s*#?\s*{key}\s*=", text, re.MULTILINE), f"{key} missing from config.example.toml"
    assert _keys(FeedSettings) <= set(data["feeds"]), "every [feeds] key appears in config.example.toml"
    for key in _keys(EmailSettings):
        assert re.search(rf"^\s*#?\s*{key}\s*=", text, re.MULTILINE), f"[email] {key} missing from config.example.toml"
    assert _keys(NotifySettings) <= set(data["notify"]), "every [notify] key appears in config.example.toml"
    assert _keys(Config) == {"bot", "feeds", "email", "notify", "source"}


def test_a_config_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes('[bot]\nstate_dir = "tilstand"\ncontact = "søren@example.org"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"config\.toml:3: not UTF-8 text \(byte 0xf8\): save the file as UTF-8$"):
        load_config(path)
