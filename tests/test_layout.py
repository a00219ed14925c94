"""The code's layout as the README's Development section describes it: one package per pipeline
stage, and imports that only go one way, so a stage can be read and tested without the later ones."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

# What each stage may import besides itself and the shared modules at the top of ``bot/``.
STAGES = {
    "parse": set(),
    "store": {"parse"},
    "sources": {"parse", "store"},
    "match": {"parse", "store"},
    "publish": {"parse", "store", "match"},
    "run": {"parse", "store", "sources", "match", "publish"},
}
SHARED_MAY_IMPORT = {"parse", "store", "sources"}  # config, cases, attachments … sit below match


def unit(module: str) -> str:
    """The stage a module belongs to, or the module itself when it sits at the top of ``bot/``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in STAGES) else module


def imports() -> dict[str, set[str]]:
    """Each stage's and top-level module's imports of other parts of ``bot``, by stage or module."""
    found: dict[str, set[str]] = {}
    for path in BOT.rglob("*.py"):
        module = ".".join(("bot", *path.relative_to(BOT).with_suffix("").parts)).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module] if node.module else []
            else:
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if name.startswith("bot."):
                    found.setdefault(unit(module), set()).add(unit(name))
    return found


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_stage_imports_only_the_stages_before_it(stage: str) -> None:
    later = {other for other in imports().get(stage, set()) if other in STAGES and other != stage}
    assert later <= STAGES[stage], f"bot/{stage}/ imports {sorted(later - STAGES[stage])}"


def test_shared_modules_import_no_later_stage_and_only_the_cli_drives_the_run() -> None:
    for module, used in imports().items():
        if module in STAGES or module.startswith(("bot.cli", "bot.__main__")):
            continue
        stages = {other for other in used if other in STAGES}
        assert stages <= SHARED_MAY_IMPORT, f"{module} imports {sorted(stages - SHARED_MAY_IMPORT)}"
    for module, used in imports().items():
        if not module.startswith(("bot.cli", "bot.__main__")):
            drivers = {other for other in used if other == "run" or other.startswith("bot.cli")}
            assert module == "run" or not drivers, f"{module} imports {sorted(drivers)}"
            assert not any(other.startswith("bot.cli") for other in used), f"{module} imports the CLI"


def test_every_stage_is_a_package_and_bot_holds_few_modules() -> None:
    assert all((BOT / stage / "__init__.py").is_file() for stage in STAGES)
    assert len(list(BOT.glob("*.py"))) <= 25, "a module that belongs to a stage is back at the top of bot/"
