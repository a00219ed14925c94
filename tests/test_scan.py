"""The matching engine's per-hit loop in C (``bot/match/_scan.c``) and its Python twin
(:func:`bot.match.automaton.scan_hits_python`, what runs where no C compiler was found at install
time) find the same hits, on generated minutes, the bundled samples, the real corpus and random
texts made of words that trip the rules (acronyms that start other acronyms, phrases, compounds).
"""

from __future__ import annotations

import shutil
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.generate import stream, term_lists
from bot.match import automaton
from bot.match.automaton import Engine, scan_hits_python
from bot.match.query import Hit, parse_term

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "bot" / "samples").glob("*/*.md"))
CORPUS = sorted((ROOT.parent / "shared" / "corpus").glob("*.*"))
NATIVE = automaton.scan_hits if automaton.scan_hits is not scan_hits_python else None


def compiler() -> str | None:
    command = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(command)


def hits_with(loop: Callable[..., None], engine: Engine, texts: list[str]) -> Iterator[list[Hit]]:
    """The engine's hits in each text with ``loop`` as its per-hit loop."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(automaton, "scan_hits", loop)
        yield from (engine.search(engine.words(text)) for text in texts)


def assert_same_hits(engine: Engine, texts: list[str]) -> None:
    assert NATIVE is not None
    native = list(hits_with(NATIVE, engine, texts))
    python = list(hits_with(scan_hits_python, engine, texts))
    for index, (left, right) in enumerate(zip(native, python, strict=True)):
        assert left == right, f"text {index}: C and Python loops differ"


def test_the_c_loop_is_built_wherever_a_c_compiler_is() -> None:
    if compiler() is None:
        pytest.skip("no C compiler: the engine runs its per-hit loop in Python (same hits, slower)")
    assert NATIVE is not None, "bot/match/_scan.c was not built: reinstall with `pip install -e .`"


needs_native = pytest.mark.skipif(NATIVE is None, reason="bot/match/_scan.c is not built here")


@needs_native
def test_c_and_python_loops_find_the_same_hits_in_generated_minutes() -> None:
    docs = [doc for doc, _ in zip(stream(3), range(300), strict=False)]
    long_doc = "\n\n".join(docs[:40])  # longer than a chunk: hits at offsets past the first
    assert len(long_doc) > automaton._CHUNK
    for count in (10, 300, 3000):
        engine = Engine([parse_term(raw) for raw in term_lists(count, seed=3)])
        assert_same_hits(engine, [*docs, long_doc])


@needs_native
def test_c_and_python_loops_find_the_same_hits_in_the_samples_and_the_corpus() -> None:
    texts = [path.read_text(encoding="utf-8") for path in [*SAMPLES, *CORPUS]]
    assert texts
    for fold_aa in (False, True):
        engine = Engine([parse_term(raw, fold_aa) for raw in term_lists(2000, seed=5)], fold_aa=fold_aa)
        assert_same_hits(engine, texts)


# Words where the rules meet: acronyms that start longer ones (ME, MED), an acronym with an
# ending, a phrase's words with markup and punctuation between them, suspended compounds, "å".
PIECES = (
    "KL", "KLs", "KL's", "ME", "MED", "MEs", "MED-udvalget", "IGU", "IGU-forløb", "bil", "bilag", "=",
    "Social-", "Sundheds-", "og", "eller", "sundhedsudvalget", "socialudvalget", "grøn", "grønne",
    "omstilling", "**omstilling**", "ledighed", "bruttoledigheden", "Åben", "åbne", "İstanbul", "Ω",
)  # fmt: skip
GAPS = (" ", "  ", "\n", "\n\n", ", ", ". ", " - ", "-", "*", "")
TERMS = (
    "KL", "ME", "MED", "IGU", "=bil", "bil", "*ledighed", "socialsundhed", "sundhedsudvalg",
    '"grøn omstilling"', '"IGU forløb"', '"KL aftale"', "åben", "aaben", '"MED udvalget"', "=KL",
)  # fmt: skip

texts = st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(GAPS)), max_size=60).map(
    lambda pairs: "".join(piece + gap for piece, gap in pairs)
)


@needs_native
@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=texts, raws=st.lists(st.sampled_from(TERMS), min_size=1, max_size=8, unique=True), fold_aa=st.booleans())
def test_c_and_python_loops_find_the_same_hits_in_random_texts(text: str, raws: list[str], fold_aa: bool) -> None:
    engine = Engine([parse_term(raw, fold_aa) for raw in raws], fold_aa=fold_aa)
    assert_same_hits(engine, [text, text * 3])


@needs_native
@pytest.mark.parametrize(
    ("args", "error"),
    [
        (([(0, 0)],), TypeError),  # too few arguments
        (((0, 0, 1), 0, (), set(), {}, " ", bool), TypeError),  # hits not a list
        (([(5, 0, 1)], 0, (), set(), {}, " ", bool), IndexError),  # a key beyond the keys
        (([("k", 0, 1)], 0, ((False, (), (), ()),), set(), {}, " ", bool), TypeError),  # a key not an int
        (([(0,)], 0, ((False, (), (), ()),), set(), {}, " ", bool), TypeError),  # a hit without its start
        (([(0, 0, 1)], 0, ((False, [1], (), ()),), set(), {}, " ", bool), TypeError),  # proven not a tuple
    ],
)
def test_the_c_loop_refuses_what_it_cannot_read_with_an_error_not_a_crash(
    args: tuple[object, ...], error: type[Exception]
) -> None:
    assert NATIVE is not None
    with pytest.raises(error):
        NATIVE(*args)


@needs_native
def test_an_error_in_the_check_reaches_the_caller() -> None:
    assert NATIVE is not None

    def check(key: int, start: int) -> bool:
        raise RuntimeError(f"check of key {key} at {start}")

    with pytest.raises(RuntimeError, match="key 0 at 7"):
        NATIVE([(0, 4, 6)], 3, ((False, (1,), (1,), ()),), set(), {}, " " * 20, check)
