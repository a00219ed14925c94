"""The command line as users meet it: help with examples, the entry points, the default run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def _commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path, subcommands of groups (``sources known``) included."""
    paths = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            paths += _commands(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "referatvagt")
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example: referatvagt" in result.output or "Examples:\n    referatvagt" in result.output
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert command.help and len(command.help.strip()) > 20


def test_python_dash_m_bot_is_the_same_command() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, env=env, check=True
    )
    assert "ingest" in result.stdout and "Example: referatvagt" in result.stdout


def test_the_readme_main_job_runs_the_bundled_samples_with_the_example_watchlists(tmp_path: Path) -> None:
    """`referatvagt run --once` in a checkout: no config, the samples, watchlists/ from the checkout."""
    shutil.copytree(ROOT / "watchlists", tmp_path / "watchlists")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("REFERATVAGT_CONFIG", None)
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    first = run("run", "--once")
    assert first.returncode == 0, first.stderr
    assert (
        first.stdout.strip()
        == "6 documents read (0 unchanged): 25 new, 4 changed, 1 removed items; 14 new matches; 0 errors"
    )
    assert (tmp_path / "state" / "referatvagt.db").is_file()
    assert (tmp_path / "state" / "feeds" / "kontanthjaelp.xml").is_file()
    second = run("ingest")
    assert (
        second.stdout.strip()
        == "6 documents read (6 unchanged): 0 new, 0 changed, 0 removed items; 0 new matches; 0 errors"
    )
    events = run("events").stdout
    assert "decision added" in events and "removed" in events and "[-2,4-] {+2,6+}" in events
    # Item 43 reaches Kommunalbestyrelsen's agenda, which quotes Økonomiudvalget's recommendation.
    case = run("case", "Lindholm", "26-4-00.32.00-S00").stdout
    assert "Økonomiudvalget  [anbefalet]" in case
    assert case.strip().endswith("Sag 26-4-00.32.00-S00 i Lindholm: 3 steps in 3 committees")


def test_the_config_environment_variable_is_read(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('[bot]\nstate_dir = "custom"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["ingest"], env={"REFERATVAGT_CONFIG": str(config)})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "custom" / "referatvagt.db").is_file()
