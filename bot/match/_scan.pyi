from collections.abc import Callable, Sequence

from bot.match.automaton import _Key

def scan_hits(
    hits: list[tuple[int, int, int]],
    offset: int,
    keys: Sequence[_Key],
    settled: set[int],
    found: dict[int, int],
    scan: str,
    check: Callable[[int, int], bool],
) -> None: ...
